-- Every refusal the database gives is a sentence naming its field (issue 22, item 8).
--
-- Through the RPC API some refusals were still constraint text ('new row for relation
-- "termination_plan_versions" violates check constraint "plan_safety_justified"'), worded for people only by
-- the Python layer, when at all. Each table a member writes through an RPC now has a BEFORE INSERT/UPDATE
-- trigger that states its rules once, as sentences: P0001 with the message, `detail` naming the field as the
-- existing refusals do (on termination plan versions, a JSON object of field -> sentence, as the guardrails
-- give it), and a hint where one helps. The constraints stay as the last word; the triggers pre-empt them.
-- Unique constraints that an RPC meets with an upsert (licences, competencies, waivers) are left to the RPC,
-- which refuses duplicates itself: a BEFORE INSERT check would break the upsert.
-- The trigger functions run as the writer (some RPCs are SECURITY INVOKER, and members have no usage on schema
-- private), so each raises its sentences itself rather than through a shared helper in private.
-- tests/test_refusals_are_sentences.py walks every constraint on these tables through the RPC that reaches it.

-- --- profiles ------------------------------------------------------------------------------------------------
create function private.profile_fields_in_sentences()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if char_length(btrim(coalesce(new.display_name, ''))) not between 2 and 80 then
    raise exception using message = 'Your name must be between 2 and 80 characters.', detail = 'display_name';
  elsif char_length(new.pronouns) > 40 then
    raise exception using message = 'Pronouns can be at most 40 characters.', detail = 'pronouns';
  elsif coalesce(cardinality(new.languages), 0) not between 1 and 10 then
    raise exception using message = 'Choose between 1 and 10 languages.',
      detail = 'languages', hint = 'Pick languages from the list.';
  elsif not (coalesce(new.offers_telehealth, false) or coalesce(new.offers_in_person, false)) then
    raise exception using message = 'Offer at least one format: telehealth or in person.',
      detail = 'offers_telehealth';
  elsif new.offers_in_person and char_length(btrim(coalesce(new.city, ''))) = 0 then
    raise exception using message = 'Name the city where you see people in person.', detail = 'city';
  elsif char_length(new.city) > 80 then
    raise exception using message = 'The city can be at most 80 characters.', detail = 'city';
  elsif new.fee_usd not between 0 and 1000 then
    raise exception using message = 'The fee must be between $0 and $1,000 per session.', detail = 'fee_usd';
  elsif new.years_in_practice not between 0 and 70 then
    raise exception using message = 'Years in practice must be between 0 and 70.', detail = 'years_in_practice';
  elsif new.timezone is null or not public.is_iana_timezone(new.timezone) then
    raise exception using message = 'Choose a time zone from the list.', detail = 'timezone';
  elsif char_length(new.bio) > 2000 then
    raise exception using message = 'The bio can be at most 2,000 characters.', detail = 'bio';
  elsif new.home_jurisdiction is not null
        and not exists (select 1 from public.jurisdictions j where j.code = new.home_jurisdiction) then
    raise exception using message = 'Choose the state or province where you live from the list.',
      detail = 'home_jurisdiction';
  end if;
  return new;
end;
$$;
revoke all on function private.profile_fields_in_sentences() from public, anon, authenticated;
create trigger profiles_fields_in_sentences before insert or update on public.profiles
  for each row execute function private.profile_fields_in_sentences();

-- --- licences and competencies (My profile, My practice; an admin's verification note) -----------------------
create function private.licence_fields_in_sentences()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  which text := coalesce('The licence for ' || nullif(btrim(new.jurisdiction), ''), 'A licence');
begin
  if new.jurisdiction is null
     or not exists (select 1 from public.jurisdictions j where j.code = new.jurisdiction) then
    raise exception using message = 'Choose each licence''s state or province from the list.', detail = 'licenses';
  elsif char_length(btrim(coalesce(new.license_type, ''))) not between 2 and 40 then
    raise exception using message = which || ' needs a licence type of 2 to 40 characters.', detail = 'licenses';
  elsif coalesce(new.license_number, '') !~ '^[A-Za-z0-9][A-Za-z0-9 ./-]{1,39}$' then
    raise exception using
      message = which || ': licence numbers are 2 to 40 letters, digits, spaces, dots, slashes or dashes.',
      detail = 'licenses';
  elsif new.expires_on is null then
    raise exception using message = which || ' needs its expiry date.', detail = 'licenses';
  elsif char_length(new.verification_note) > 500 then
    raise exception using message = 'The note can be at most 500 characters.', detail = 'note';
  end if;
  return new;
end;
$$;
revoke all on function private.licence_fields_in_sentences() from public, anon, authenticated;
create trigger licenses_fields_in_sentences before insert or update on public.licenses
  for each row execute function private.licence_fields_in_sentences();

create function private.competency_fields_in_sentences()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  named text := (select m.name from public.modalities m where m.code = new.modality);
begin
  if named is null then
    raise exception using message = 'Choose each competency''s modality from the list.', detail = 'competencies';
  elsif new.level is null or new.level not between 1 and 4 then
    raise exception using message = named || ': the level is 1 (familiar) to 4 (trainer).', detail = 'competencies';
  elsif char_length(new.evidence_body) > 120 then
    raise exception using message = named || ': the training body can be at most 120 characters.',
      detail = 'competencies';
  elsif char_length(new.evidence_credential) > 60 then
    raise exception using message = named || ': the credential can be at most 60 characters.',
      detail = 'competencies';
  elsif new.evidence_year not between 1950 and 2100 then
    raise exception using message = named || ': the year is between 1950 and 2100.', detail = 'competencies';
  elsif new.training_hours not between 0 and 20000 then
    raise exception using message = named || ': training hours are 0 to 20,000.', detail = 'competencies';
  elsif char_length(new.verification_note) > 500 then
    raise exception using message = 'The note can be at most 500 characters.', detail = 'note';
  end if;
  return new;
end;
$$;
revoke all on function private.competency_fields_in_sentences() from public, anon, authenticated;
create trigger competencies_fields_in_sentences before insert or update on public.competencies
  for each row execute function private.competency_fields_in_sentences();

-- --- availability (My availability, My practice) ---------------------------------------------------------------
create function private.availability_fields_in_sentences()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.session_minutes not between 15 and 180 then
    raise exception using message = 'Sessions last 15 to 180 minutes.', detail = 'session_minutes';
  elsif new.buffer_minutes not between 0 and 120 then
    raise exception using message = 'The buffer is 0 to 120 minutes.', detail = 'buffer_minutes';
  elsif new.min_notice_hours not between 0 and 720 then
    raise exception using message = 'Minimum notice is 0 to 720 hours.', detail = 'min_notice_hours';
  elsif new.max_sessions_per_week not between 1 and 80 then
    raise exception using message = 'The weekly maximum is 1 to 80 sessions, or empty for none.',
      detail = 'max_sessions_per_week';
  elsif new.late_cancel_hours not between 0 and 168 then
    raise exception using message = 'The late-cancellation threshold is 0 to 168 hours.',
      detail = 'late_cancel_hours';
  elsif new.capacity not between 0 and 60 then
    raise exception using message = 'Capacity is the number of active clients you can hold: 0 to 60.',
      detail = 'capacity';
  end if;
  return new;
end;
$$;
revoke all on function private.availability_fields_in_sentences() from public, anon, authenticated;
create trigger availability_settings_fields_in_sentences before insert or update on public.availability_settings
  for each row execute function private.availability_fields_in_sentences();

create function private.availability_rows_in_sentences()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if tg_table_name = 'weekly_hours' then
    if new.weekday is null or new.weekday not between 1 and 7 then
      raise exception using message = 'Weekly hours name a weekday, Monday (1) to Sunday (7).',
        detail = 'weekly_hours';
    elsif new.ends_at <= new.starts_at then
      raise exception using
        message = format('A range on %s ends before it starts (%s to %s); give the start first.',
                         trim(to_char(date '2024-01-07' + new.weekday, 'Day')),
                         to_char(new.starts_at, 'HH24:MI'), to_char(new.ends_at, 'HH24:MI')),
        detail = 'weekly_hours';
    end if;
  elsif tg_table_name = 'date_overrides' then
    if (new.starts_at is null) <> (new.ends_at is null) or new.ends_at <= new.starts_at then
      raise exception using
        message = format('The override on %s needs a start and an end, the end after the start (or neither, '
                         'for a day off).', to_char(new.on_date, 'FMDD Mon YYYY')),
        detail = 'overrides';
    end if;
  elsif tg_table_name = 'time_off' then
    if new.ends_on < new.starts_on then
      raise exception using
        message = format('Time off from %s ends before it starts; give the days in order.',
                         to_char(new.starts_on, 'FMDD Mon YYYY')),
        detail = 'time_off';
    elsif char_length(new.note) > 200 then
      raise exception using message = 'A time-off note can be at most 200 characters.', detail = 'time_off';
    end if;
  end if;
  return new;
end;
$$;
revoke all on function private.availability_rows_in_sentences() from public, anon, authenticated;
create trigger weekly_hours_in_sentences before insert or update on public.weekly_hours
  for each row execute function private.availability_rows_in_sentences();
create trigger date_overrides_in_sentences before insert or update on public.date_overrides
  for each row execute function private.availability_rows_in_sentences();
create trigger time_off_in_sentences before insert or update on public.time_off
  for each row execute function private.availability_rows_in_sentences();

-- --- requests, declarations, waivers -----------------------------------------------------------------------------
create function private.request_fields_in_sentences()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.seeker_id = new.consultant_id then
    raise exception using message = 'You cannot request a consultation with yourself.', detail = 'consultant';
  elsif char_length(btrim(coalesce(new.message, ''))) not between 1 and 1500 then
    raise exception using message = 'Write a message to the consultant of at most 1,500 characters.',
      detail = 'message';
  elsif new.status = 'declined' and char_length(btrim(coalesce(new.decline_reason, ''))) = 0 then
    raise exception using message = 'Give a reason when you decline, so your colleague can look elsewhere.',
      detail = 'reason';
  elsif char_length(new.decline_reason) > 500 then
    raise exception using message = 'The reason can be at most 500 characters.', detail = 'reason';
  end if;
  return new;
end;
$$;
revoke all on function private.request_fields_in_sentences() from public, anon, authenticated;
create trigger requests_fields_in_sentences before insert or update on public.consultation_requests
  for each row execute function private.request_fields_in_sentences();

create function private.declaration_fields_in_sentences()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.ends_on < new.starts_on then
    raise exception using message = 'The end date is before the start date; give them in order.', detail = 'ends_on';
  end if;
  if tg_table_name = 'affiliations' then
    if char_length(btrim(coalesce(new.organisation, ''))) not between 2 and 120 then
      raise exception using message = 'The organisation''s name is 2 to 120 characters.', detail = 'organisation';
    elsif new.kind is null or new.kind not in ('practice', 'agency', 'hospital', 'university', 'training_programme',
                                               'board', 'association') then
      raise exception using message = 'Choose the kind of organisation from the list.', detail = 'kind';
    elsif char_length(new.role) > 80 then
      raise exception using message = 'The role can be at most 80 characters.', detail = 'role';
    elsif new.email_domain !~ '^[a-z0-9-]+(\.[a-z0-9-]+)+$' then
      raise exception using message = 'Give the email domain in lower case, like example.org.',
        detail = 'email_domain';
    end if;
  else
    if new.kind is null or not exists (select 1 from public.conflict_rules r where r.kind = new.kind) then
      raise exception using message = 'Choose the kind of relationship from the list.', detail = 'kind';
    elsif new.counterpart_id is not null
          and not exists (select 1 from public.profiles p where p.id = new.counterpart_id) then
      raise exception using message = 'Pick the person from the list; that member is not in the portal.',
        detail = 'counterpart';
    elsif new.counterpart_id = new.declarer_id then
      raise exception using message = 'You cannot declare a relationship with yourself.', detail = 'counterpart';
    elsif new.counterpart_id is null and char_length(btrim(coalesce(new.counterpart_name, ''))) = 0 then
      raise exception using message = 'Pick the person from the list, or give a name and email.',
        detail = 'counterpart';
    elsif char_length(new.counterpart_name) > 120 then
      raise exception using message = 'The name can be at most 120 characters.', detail = 'counterpart_name';
    elsif new.counterpart_email !~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' then
      raise exception using message = 'Give an email address like name@example.org.', detail = 'counterpart_email';
    end if;
  end if;
  return new;
end;
$$;
revoke all on function private.declaration_fields_in_sentences() from public, anon, authenticated;
create trigger affiliations_fields_in_sentences before insert or update on public.affiliations
  for each row execute function private.declaration_fields_in_sentences();
create trigger relationships_fields_in_sentences before insert or update on public.declared_relationships
  for each row execute function private.declaration_fields_in_sentences();

create function private.waiver_fields_in_sentences()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if char_length(btrim(new.seeker_rationale)) not between 20 and 2000
     or char_length(btrim(new.consultant_rationale)) not between 20 and 2000 then
    raise exception using
      message = 'Write your rationale in 20 to 2,000 characters: what you discussed and why you proceed.',
      detail = 'rationale';
  end if;
  return new;
end;
$$;
revoke all on function private.waiver_fields_in_sentences() from public, anon, authenticated;
create trigger waivers_fields_in_sentences before insert or update on public.conflict_waivers
  for each row execute function private.waiver_fields_in_sentences();

-- --- sessions and what each party says happened --------------------------------------------------------------
create function private.session_fields_in_sentences()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if tg_table_name = 'appointments' then
    if new.consultant_id = new.client_id then
      raise exception using message = 'A session is between two different people.', detail = 'other';
    elsif char_length(new.cancel_reason) > 500 then
      raise exception using message = 'The reason can be at most 500 characters.', detail = 'reason';
    elsif char_length(new.decline_reason) > 500 then
      raise exception using message = 'The reason can be at most 500 characters.', detail = 'reason';
    elsif char_length(new.resolution_note) > 1000 then
      raise exception using message = 'The note can be at most 1,000 characters.', detail = 'note';
    end if;
  else
    if new.outcome is null or new.outcome not in ('held', 'client_absent', 'consultant_absent', 'ended_early') then
      raise exception using
        message = 'Say what happened: held, the client did not come, the consultant did not come, or ended early.',
        detail = 'outcome';
    elsif char_length(new.note) > 500 then
      raise exception using message = 'The note can be at most 500 characters.', detail = 'note';
    end if;
  end if;
  return new;
end;
$$;
revoke all on function private.session_fields_in_sentences() from public, anon, authenticated;
create trigger appointments_fields_in_sentences before insert or update on public.appointments
  for each row execute function private.session_fields_in_sentences();
create trigger attendance_fields_in_sentences before insert or update on public.attendance_statements
  for each row execute function private.session_fields_in_sentences();

-- --- termination plans: triggers of their own (the plan functions are not redefined here) ----------------------
-- Named to fire before termination_versions_derive_initiator (BEFORE triggers fire in name order), whose
-- guardrails read the referrals as an array.
create function private.plan_terms_in_sentences()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  problems jsonb := '{}';
begin
  if new.reason is null or new.reason not in ('goals_met', 'client_choice', 'consultant_capacity', 'relocation',
                                              'conflict_emerged', 'specialist_referral', 'financial', 'safety',
                                              'other') then
    problems := problems || jsonb_build_object('reason', 'Choose a reason.');
  end if;
  if new.reason = 'safety' and char_length(btrim(coalesce(new.safety_justification, ''))) < 20 then
    problems := problems || jsonb_build_object('safety_justification', 'Ending for safety needs a written '
                'justification (at least 20 characters); both of you will see it flagged.');
  elsif char_length(new.safety_justification) > 2000 then
    problems := problems || jsonb_build_object('safety_justification',
                'The safety justification can be at most 2,000 characters.');
  end if;
  if new.discussed_on is null then
    problems := problems || jsonb_build_object('discussed_on', 'Give the date the ending was first discussed.');
  end if;
  if new.final_session_on is null then
    problems := problems || jsonb_build_object('final_session_on', 'Give the date of the final session.');
  elsif new.final_session_on < new.discussed_on then
    problems := problems || jsonb_build_object('final_session_on',
                'The final session cannot be before the ending was first discussed.');
  end if;
  if new.follow_up_on < new.final_session_on then
    problems := problems || jsonb_build_object('follow_up_on', 'The follow-up comes after the final session.');
  end if;
  if new.sessions_remaining is null or new.sessions_remaining not between 0 and 52 then
    problems := problems || jsonb_build_object('sessions_remaining', 'Sessions remaining is 0 to 52.');
  end if;
  if new.closing_sessions is null or new.closing_sessions not between 0 and 10 then
    problems := problems || jsonb_build_object('closing_sessions', 'Closing sessions are 0 to 10.');
  elsif new.closing_sessions > new.sessions_remaining then
    problems := problems || jsonb_build_object('closing_sessions', format(
                'Closing sessions are part of the sessions remaining: at most %s here.', new.sessions_remaining));
  end if;
  if jsonb_typeof(new.referrals) is distinct from 'array' then
    problems := problems || jsonb_build_object('referrals', 'List the referrals as a list, one colleague each.');
  end if;
  if not coalesce(new.checklist <@ array['pre_termination_discussion', 'referrals_given', 'closing_session_held',
                                         'summary_shared', 'follow_up_arranged'], false) then
    problems := problems || jsonb_build_object('checklist', 'Choose checklist items from the list.');
  end if;
  if char_length(new.reason_notes) > 2000 then
    problems := problems || jsonb_build_object('reason_notes', 'The notes on the reason can be at most 2,000 '
                                                               'characters.');
  end if;
  if char_length(new.aftercare_notes) > 4000 then
    problems := problems || jsonb_build_object('aftercare_notes', 'The aftercare notes can be at most 4,000 '
                                                                  'characters.');
  end if;
  if problems <> '{}' then
    raise exception 'The plan needs changes before it can be saved: %',
      (select string_agg(value, ' ' order by key) from jsonb_each_text(problems))
      using detail = problems::text, hint = 'Nothing was saved.';
  end if;
  return new;
end;
$$;
revoke all on function private.plan_terms_in_sentences() from public, anon, authenticated;
create trigger termination_versions_check_terms_in_sentences before insert on public.termination_plan_versions
  for each row execute function private.plan_terms_in_sentences();

create function private.plan_steps_in_sentences()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if tg_table_name = 'termination_plans' then
    if char_length(new.withdraw_reason) > 500 then
      raise exception using message = 'The reason can be at most 500 characters.', detail = 'reason';
    end if;
  elsif new.item is null or new.item not in ('pre_termination_discussion', 'referrals_given', 'closing_session_held',
                                             'summary_shared', 'follow_up_arranged') then
    raise exception using message = 'Choose a checklist item from the list.', detail = 'item';
  end if;
  return new;
end;
$$;
revoke all on function private.plan_steps_in_sentences() from public, anon, authenticated;
create trigger termination_plans_steps_in_sentences before insert or update on public.termination_plans
  for each row execute function private.plan_steps_in_sentences();
create trigger termination_checklist_in_sentences before insert or update on public.termination_checklist_progress
  for each row execute function private.plan_steps_in_sentences();

-- --- email choices; an admin's modalities and conflict rules ------------------------------------------------------
create function private.settings_in_sentences()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if tg_table_name = 'email_preferences' then
    if not coalesce(new.muted <@ array['sessions', 'requests', 'plans', 'attendance', 'account'], false) then
      raise exception using message = 'Choose among sessions, requests, plans, attendance and account.',
        detail = 'muted';
    end if;
  elsif tg_table_name = 'modalities' then
    if coalesce(new.code, '') !~ '^[a-z][a-z0-9_]{1,30}$' then
      raise exception using
        message = 'A modality code is 2 to 31 lower-case letters, digits or underscores, starting with a letter.',
        detail = 'code';
    elsif char_length(btrim(coalesce(new.name, ''))) not between 2 and 60 then
      raise exception using message = 'A modality''s name is 2 to 60 characters.', detail = 'name';
    elsif char_length(new.description) > 300 then
      raise exception using message = 'The description can be at most 300 characters.', detail = 'description';
    elsif exists (select 1 from public.modalities m where m.code = new.code
                  and (tg_op = 'INSERT' or m.code <> old.code)) then
      raise exception using message = format('A modality with the code %s already exists.', new.code),
        detail = 'code';
    elsif exists (select 1 from public.modalities m where m.name = new.name
                  and (tg_op = 'INSERT' or m.code <> old.code)) then
      raise exception using message = format('A modality named %s already exists.', new.name), detail = 'name';
    end if;
  elsif tg_table_name = 'conflict_rules' then
    if new.severity is null or new.severity not in ('blocking', 'potential') then
      raise exception using message = 'Choose blocking or potential.', detail = 'severity';
    elsif new.window_years not between 0 and 50 then
      raise exception using message = 'The window is 0 to 50 years.', detail = 'window_years';
    elsif new.severity = 'blocking' and new.waivable then
      raise exception using message = 'A blocking conflict can never be waived.', detail = 'waivable';
    elsif new.derived and new.severity <> 'potential' then
      raise exception using
        message = 'A conflict the portal infers by matching (not one a member declared) can only be potential.',
        detail = 'severity';
    end if;
  end if;
  return new;
end;
$$;
revoke all on function private.settings_in_sentences() from public, anon, authenticated;
create trigger email_preferences_in_sentences before insert or update on public.email_preferences
  for each row execute function private.settings_in_sentences();
create trigger modalities_in_sentences before insert or update on public.modalities
  for each row execute function private.settings_in_sentences();
create trigger conflict_rules_in_sentences before insert or update on public.conflict_rules
  for each row execute function private.settings_in_sentences();
