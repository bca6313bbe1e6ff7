-- A refusal says its date as a person reads it (issue 26, item 11).
--
-- "Mark completed" on a plan whose final session is still ahead was refused with the date in ISO form
-- ("The final session is planned for 2027-01-15; ..."). The date is now worded ("Friday 15 January 2027").
-- This was the only refusal printing a bare date: the others word theirs with to_char already.
-- complete_termination_plan: its current definition (20261126000600's, with PT404 for not found since
-- 20261129001900), only the refusal's date changed (CREATE OR REPLACE keeps
-- its grants).

create or replace function public.complete_termination_plan(p_plan uuid)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  me uuid := auth.uid();
  plan public.termination_plans;
  terms public.termination_plan_versions;
begin
  select * into plan from public.termination_plans where id = p_plan for update;
  if plan.id is null or me not in (plan.seeker_id, plan.consultant_id) then
    raise exception 'No such plan.' using errcode = 'PT404';
  end if;
  if plan.status <> 'agreed' then
    raise exception 'Only an agreed plan can be completed.' using detail = 'status';
  end if;
  select * into terms from public.termination_plan_versions where plan_id = plan.id and version = plan.current_version;
  if terms.final_session_on > current_date then
    raise exception 'The final session is planned for %; complete the plan after it.',
      to_char(terms.final_session_on, 'FMDay FMDD FMMonth YYYY')
      using detail = 'final_session_on';
  end if;
  update public.termination_plans set status = 'completed', closed_at = now(), updated_at = now()
  where id = plan.id;
  -- The engagement closes and frees the consultant's capacity (the counter trigger runs).
  update public.engagements set status = 'ended', ended_at = now() where id = plan.engagement_id;
  perform private.notify(case when me = plan.seeker_id then plan.consultant_id else plan.seeker_id end,
                         'plan_completed', 'A termination plan was completed; the engagement is closed.',
                         'termination');
end;
$$;
