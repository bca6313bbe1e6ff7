-- Notices say what and who, once per event (#13), and name zones in words (#15).
--
-- "Samuel Kim confirmed the session." did not say which session; "A termination
-- plan was changed and awaits your signature." did not say whose plan or who
-- changed it; and the same notice could be written twice in one change. Rather
-- than edit every function that notifies, one BEFORE INSERT trigger on
-- notifications completes the sentence from what the transaction changed (the
-- session changed last: private.remember_changed_appointment; the plan changed
-- last: below), and drops a notice identical to one the same person already got
-- in the same transaction, or a reminder that a version awaits a signature when
-- its proposal already said so (the outbox, filled AFTER INSERT, never sees them).
-- Times read "Tue 08 Dec at 16:00 New York time" instead of the zone's IANA name.

create function private.zone_in_words(p_zone text)
returns text
language sql
immutable
set search_path = ''
as $$
  select case when upper(p_zone) in ('UTC', 'ETC/UTC', 'GMT', 'ETC/GMT') then 'UTC'
              else replace(regexp_replace(p_zone, '^.*/', ''), '_', ' ') || ' time' end
$$;
revoke all on function private.zone_in_words(text) from public, anon, authenticated, service_role;

create or replace function private.local_time_text(p_at timestamptz, p_who uuid)
returns text
language sql
stable
set search_path = ''
as $$
  select to_char(p_at at time zone z.tz, 'Dy DD Mon "at" HH24:MI') || ' ' || private.zone_in_words(z.tz)
  from (select coalesce((select p.timezone from public.profiles p where p.id = p_who), 'UTC') as tz) z
$$;

-- The plan a notice is about: the one changed last in this transaction.
create function private.remember_changed_plan()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform set_config('portal.changed_plan', new.id::text, true);
  return null;
end;
$$;
revoke all on function private.remember_changed_plan() from public, anon, authenticated;
create trigger termination_plans_remember_changed after insert or update on public.termination_plans
  for each row execute function private.remember_changed_plan();

create function private.notices_say_what_and_who()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  actor text := (select p.display_name from public.profiles p where p.id = auth.uid());
  appt public.appointments;
  plan public.termination_plans;
  other text;
begin
  if new.page = 'appointments' and new.kind in ('confirmed', 'declined') then
    select * into appt from public.appointments a
    where a.id = nullif(current_setting('portal.changed_appointment', true), '')::uuid;
    if appt.id is not null and new.message not like '% on %' then
      new.message := regexp_replace(new.message, '(the session|the proposed time)\.$',
                                    '\1 on ' || private.local_time_text(appt.starts_at, new.user_id) || '.');
    end if;
  elsif new.page = 'termination' and new.kind like 'plan\_%' then
    select * into plan from public.termination_plans p
    where p.id = nullif(current_setting('portal.changed_plan', true), '')::uuid;
    if plan.id is not null then
      other := (select p.display_name from public.profiles p
                where p.id = case when new.user_id = plan.seeker_id then plan.consultant_id else plan.seeker_id end);
      new.message := case new.kind
        when 'plan_proposed' then coalesce(actor, other) || ' proposed a termination plan for your work together; '
                                  || 'it awaits your signature.'
        when 'plan_changed' then coalesce(actor, other) || ' changed the termination plan for your work together '
                                 || '(now version ' || plan.current_version || '); it awaits your signature.'
        when 'plan_agreed' then 'Your termination plan with ' || other || ' is agreed by both of you.'
        when 'plan_completed' then coalesce(actor, other) || ' completed the termination plan; your work together '
                                   || 'is closed.'
        when 'plan_withdrawn' then coalesce(actor, other) || ' withdrew the termination plan: '
                                   || coalesce(plan.withdraw_reason, '')
        else new.message end;
    end if;
  end if;
  -- The reminder that a version awaits a signature, for a version its proposal or change already announced
  -- to this person: the same event, told twice ("proposed ... awaits your signature", then "awaits your
  -- signature" on the next page load).
  if new.kind = 'plan_awaiting' and new.dedup_key like 'awaiting:%' and exists (
       select 1 from public.notifications n
       join public.termination_plan_versions v
         on v.plan_id = split_part(new.dedup_key, ':', 2)::uuid and v.version = split_part(new.dedup_key, ':', 3)::integer
       where n.user_id = new.user_id and n.kind in ('plan_proposed', 'plan_changed') and n.created_at >= v.created_at) then
    return null;
  end if;
  -- Once per event: the same sentence to the same person within one change is one notice.
  if exists (select 1 from public.notifications n
             where n.user_id = new.user_id and n.created_at = new.created_at and n.kind = new.kind
               and n.message = new.message) then
    return null;
  end if;
  return new;
end;
$$;
revoke all on function private.notices_say_what_and_who() from public, anon, authenticated;
create trigger notifications_say_what_and_who before insert on public.notifications
  for each row execute function private.notices_say_what_and_who();
