-- Who initiated an ending is a fact, not a field.
--
-- The guardrails against last-minute discharge (21 days' notice, 2 sessions, a referral) applied
-- only when a version said `initiated_by = 'consultant'`, and the consultant typed that value: a
-- consultant could write "initiated by the client" and end the work in three days, and a
-- consultant's revision of a client's plan kept the client's initiator.
--
-- From now on the database writes initiated_by from who wrote the version:
--   * a version the client wrote is client-initiated: the client may always propose an earlier
--     ending than the guardrails allow the consultant, and the consultant may sign it;
--   * a version the consultant wrote is consultant-initiated (the guardrails apply, safety aside),
--     except on a plan the client started, where a consultant's version that ends no earlier and
--     with no fewer sessions than the client's latest proposal is still the client's ending.
-- Whatever a caller sends as initiated_by is ignored. Rows written before this migration stay
-- as they were (history is not rewritten); the trigger applies to every version written from now.
--
-- A refusal names the rule that failed and what would pass (the earliest final session, the
-- sessions, a referral) instead of repeating every rule: the detail is a JSON object
-- {field: sentence}, so each sentence can stand next to its field.

create function private.derive_plan_initiator()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  plan public.termination_plans;
  asked public.termination_plan_versions;  -- the client's latest proposal on this plan
  earliest date;
  problems jsonb := '{}';
begin
  select * into plan from public.termination_plans where id = new.plan_id;
  if new.author_id = plan.seeker_id then
    new.initiated_by := 'client';
  else
    select * into asked from public.termination_plan_versions v
    where v.plan_id = new.plan_id and v.author_id = plan.seeker_id
    order by v.version desc limit 1;
    new.initiated_by := case
      when plan.created_by = plan.seeker_id and asked.plan_id is not null
           and new.final_session_on >= asked.final_session_on
           and new.sessions_remaining >= asked.sessions_remaining then 'client'
      else 'consultant' end;
  end if;

  if new.initiated_by = 'consultant' and new.reason <> 'safety' then
    earliest := new.discussed_on + 21;
    if new.final_session_on < earliest then
      problems := problems || jsonb_build_object('final_session_on', format(
        'When you end the work, the final session is at least 21 days after the ending was first discussed '
        '(%s): %s or later.', to_char(new.discussed_on, 'FMDD Mon YYYY'), to_char(earliest, 'FMDD Mon YYYY')));
    end if;
    if new.sessions_remaining < 2 then
      problems := problems || jsonb_build_object('sessions_remaining', format(
        'When you end the work, at least 2 sessions remain to process the ending (this plan has %s).',
        new.sessions_remaining));
    end if;
    if jsonb_array_length(new.referrals) < 1 then
      problems := problems || jsonb_build_object('referrals',
        'When you end the work, name at least one colleague the client can continue with.');
    end if;
    if problems <> '{}' then
      raise exception 'This plan ends the work sooner than the guardrails allow: %',
        (select string_agg(value, ' ' order by key) from jsonb_each_text(problems))
        using detail = problems::text,
              hint = 'Only the reason "Safety", justified in writing, is exempt. The client may propose an earlier '
                     'ending, which you may sign.';
    end if;
  end if;
  return new;
end;
$$;
-- A trigger needs no EXECUTE to fire; versions are written only by the definer functions (as the owner).
revoke all on function private.derive_plan_initiator() from public, anon, authenticated, service_role;

create trigger termination_versions_derive_initiator before insert on public.termination_plan_versions
  for each row execute function private.derive_plan_initiator();
