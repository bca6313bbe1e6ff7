-- The termination guardrails stated once (issue 24, item 2): a consultant who ends the work gives at least
-- notice_days from the first discussion to the final session, leaves at least closing_sessions sessions and names
-- at least `referrals` colleagues; an ending for safety is exempt with a written justification of at least
-- safety_justification_chars characters. The guardrail trigger, the plan's sentences and the Termination page all
-- read these numbers from public.termination_policy(), instead of restating them.
-- One public function rather than a private helper behind a public one: members have no USAGE on schema private,
-- so an invoker wrapper could not read a private helper, and a definer one is not worth it for four constants.
-- SECURITY INVOKER; granted like public.cancellation_policy. private.derive_plan_initiator and
-- private.plan_terms_in_sentences (redefined below from their current text, only the numbers changed) fire inside
-- the plan functions, SECURITY DEFINER as the owner, who may execute it.
create function public.termination_policy()
returns jsonb
language sql
stable
set search_path = ''
as $$
  select jsonb_build_object('notice_days', 21, 'closing_sessions', 2, 'referrals', 1, 'safety_justification_chars', 20)
$$;
revoke all on function public.termination_policy() from public, anon, authenticated;
grant execute on function public.termination_policy() to portal_member;

-- Each version: the plan's initiator copied for the record, and the guardrails by author.
create or replace function private.derive_plan_initiator()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  plan public.termination_plans;
  asked public.termination_plan_versions;  -- the client's latest version on this plan
  earliest date;
  policy constant jsonb := public.termination_policy();
  min_notice_days constant int := (policy ->> 'notice_days')::int;
  min_sessions constant int := (policy ->> 'closing_sessions')::int;
  min_referrals constant int := (policy ->> 'referrals')::int;
  problems jsonb := '{}';
  hint text := 'Only the reason "Safety", justified in writing, is exempt. The client may propose an earlier '
               'ending, which you may sign.';
begin
  select * into plan from public.termination_plans where id = new.plan_id;
  if new.version = 1 and new.author_id is distinct from plan.created_by then
    raise exception 'The first version of a plan is written by the member who starts it.'
      using detail = 'author_id';
  end if;
  new.initiated_by := plan.initiated_by;
  if new.author_id <> plan.consultant_id or new.reason = 'safety' then
    return new;
  end if;
  if plan.initiated_by = 'client' then
    select * into asked from public.termination_plan_versions v
    where v.plan_id = new.plan_id and v.author_id = plan.seeker_id
    order by v.version desc limit 1;
    if asked.plan_id is not null and new.final_session_on >= asked.final_session_on
       and new.sessions_remaining >= asked.sessions_remaining then
      return new;  -- the client's ending, no shorter than they asked
    end if;
    if asked.plan_id is not null then
      hint := format('The client asked to end on %s with %s sessions: keep to that (or later, or more), or meet '
                     'these rules. Only the reason "Safety", justified in writing, is exempt.',
                     to_char(asked.final_session_on, 'FMDD Mon YYYY'), asked.sessions_remaining);
    end if;
  end if;

  earliest := new.discussed_on + min_notice_days;
  if new.final_session_on < earliest then
    problems := problems || jsonb_build_object('final_session_on', format(
      'When you end the work, the final session is at least %s days after the ending was first discussed '
      '(%s): %s or later.', min_notice_days, to_char(new.discussed_on, 'FMDD Mon YYYY'),
      to_char(earliest, 'FMDD Mon YYYY')));
  end if;
  if new.sessions_remaining < min_sessions then
    problems := problems || jsonb_build_object('sessions_remaining', format(
      'When you end the work, at least %s sessions remain to process the ending (this plan has %s).',
      min_sessions, new.sessions_remaining));
  end if;
  if jsonb_array_length(new.referrals) < min_referrals then
    problems := problems || jsonb_build_object('referrals', format(
      'When you end the work, name at least %s the client can continue with.',
      case when min_referrals = 1 then 'one colleague' else min_referrals || ' colleagues' end));
  end if;
  if problems <> '{}' then
    raise exception 'This plan ends the work sooner than the guardrails allow: %',
      (select string_agg(value, ' ' order by key) from jsonb_each_text(problems))
      using detail = problems::text, hint = hint;
  end if;
  return new;
end;
$$;

-- Named to fire before termination_versions_derive_initiator (BEFORE triggers fire in name order), whose
-- guardrails read the referrals as an array.
create or replace function private.plan_terms_in_sentences()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  problems jsonb := '{}';
  justification_chars constant int := (public.termination_policy() ->> 'safety_justification_chars')::int;
begin
  if new.reason is null or new.reason not in ('goals_met', 'client_choice', 'consultant_capacity', 'relocation',
                                              'conflict_emerged', 'specialist_referral', 'financial', 'safety',
                                              'other') then
    problems := problems || jsonb_build_object('reason', 'Choose a reason.');
  end if;
  if new.reason = 'safety' and char_length(btrim(coalesce(new.safety_justification, ''))) < justification_chars then
    problems := problems || jsonb_build_object('safety_justification', format('Ending for safety needs a written '
                'justification (at least %s characters); both of you will see it flagged.', justification_chars));
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
