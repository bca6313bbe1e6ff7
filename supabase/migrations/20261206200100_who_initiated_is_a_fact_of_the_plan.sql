-- Who initiated an ending is a fact of the plan, not of the latest version (issue 22, item 2).
--
-- 20261129000200 derived `initiated_by` per version from its author, so a client's kinder revision of
-- the consultant's ending (35 days instead of 28, one more closing session) made the new version, the
-- diff and the printed summary say "Initiated by: the client". Who initiated is who first proposed
-- ending the work: the member who started the plan, the author of its first version. It is now kept
-- on the plan (`termination_plans.initiated_by`), derived by the database from `created_by` on every
-- write of the row (a caller's value is never read), and every reader takes it from there.
--
-- The guardrails keep their meaning, now keyed on the plan and on each version's author:
--   * on a consultant-initiated plan, every version the consultant writes meets them (21 days from the
--     first discussion, 2 sessions, a referral), safety aside; a version the client writes need not
--     (a client may always propose an earlier ending, which the consultant may sign);
--   * on a client-initiated plan, a consultant's version that ends no sooner and with no fewer sessions
--     than the client's latest version keeps to the client's ending; one that shortens it must meet the
--     guardrails (a consultant cannot shorten a client's proposal below them).
-- The version's own `initiated_by` column stays (versions are an immutable record) as a copy of the
-- plan's fact for versions written from now on; rows written earlier keep what they said, and no
-- function returns the per-version value any more. The check constraint `plan_consultant_notice`
-- keyed the guardrails on that column; a client-written version of a consultant's ending would now
-- trip it, so it goes: the trigger below applies the rule by author, with one sentence per field.

alter table public.termination_plans add column initiated_by text
  constraint termination_plans_initiated_by_known check (initiated_by in ('consultant', 'client'));
update public.termination_plans
set initiated_by = case when created_by = seeker_id then 'client' else 'consultant' end;
alter table public.termination_plans alter column initiated_by set not null;

alter table public.termination_plan_versions drop constraint plan_consultant_notice;

-- The plan's initiator follows from who started it, whoever writes the row.
create function private.plan_initiator_is_who_started_it()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.initiated_by := case when new.created_by = new.seeker_id then 'client' else 'consultant' end;
  return new;
end;
$$;
revoke all on function private.plan_initiator_is_who_started_it() from public, anon, authenticated, service_role;
create trigger termination_plans_initiator_is_who_started_it
  before insert or update of initiated_by, created_by, seeker_id on public.termination_plans
  for each row execute function private.plan_initiator_is_who_started_it();

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
      using detail = problems::text, hint = hint;
  end if;
  return new;
end;
$$;
revoke all on function private.derive_plan_initiator() from public, anon, authenticated, service_role;

-- The Termination plans page: who initiated is the plan's, and a version no longer carries its own.
create or replace function public.my_termination_plans()
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(jsonb_agg(jsonb_build_object(
    'id', p.id, 'engagement_id', p.engagement_id, 'status', p.status, 'current_version', p.current_version,
    'initiated_by', p.initiated_by,
    'my_role', case when p.seeker_id = auth.uid() then 'client' else 'consultant' end,
    'other_id', case when p.seeker_id = auth.uid() then p.consultant_id else p.seeker_id end,
    'other_name', (select display_name from public.profiles
                   where id = case when p.seeker_id = auth.uid() then p.consultant_id else p.seeker_id end),
    'created_at', p.created_at, 'updated_at', p.updated_at, 'closed_at', p.closed_at, 'withdraw_reason', p.withdraw_reason,
    'versions', (select jsonb_agg((to_jsonb(v) - 'initiated_by') || jsonb_build_object(
                   'author_is_me', v.author_id = auth.uid(),
                   'signatures', coalesce((select jsonb_agg(jsonb_build_object(
                                   'signer', case when s.signer_id = auth.uid() then 'me' else 'other' end,
                                   'signed_at', s.signed_at) order by s.signed_at)
                                 from public.termination_signatures s
                                 where s.plan_id = v.plan_id and s.version = v.version), '[]'))
                   order by v.version)
                 from public.termination_plan_versions v where v.plan_id = p.id),
    'progress', coalesce((select jsonb_agg(c.item) from public.termination_checklist_progress c
                          where c.plan_id = p.id), '[]'),
    'progress_detail', coalesce((select jsonb_agg(jsonb_build_object(
                                   'item', c.item, 'done_at', c.done_at, 'by_me', c.done_by = auth.uid()))
                                 from public.termination_checklist_progress c where c.plan_id = p.id), '[]'),
    'sessions', coalesce((select jsonb_agg(jsonb_build_object('starts_at', a.starts_at, 'status', a.status)
                                           order by a.starts_at)
                          from public.appointments a
                          where a.engagement_id = p.engagement_id and a.status in ('requested', 'confirmed',
                                                                                   'completed')
                            and a.starts_at >= p.created_at - interval '60 days'), '[]'))
    order by p.status in ('completed', 'withdrawn'), p.updated_at desc), '[]')
  from public.termination_plans p
  where auth.uid() in (p.seeker_id, p.consultant_id)
$$;

-- The data export: the plan carries who initiated (to_jsonb of the plan row); versions no longer do.
create or replace function public.export_my_data()
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  with me as (select auth.uid() as id)
  select jsonb_build_object(
    'exported_at', now(),
    'account', (select jsonb_build_object('username', c.username, 'email', c.email, 'created_at', c.created_at)
                from private.credentials c, me where c.user_id = me.id),
    'profile', (select to_jsonb(p) from public.profiles p, me where p.id = me.id),
    'licenses', coalesce((select jsonb_agg(to_jsonb(l)) from public.licenses l, me where l.profile_id = me.id), '[]'),
    'competencies', coalesce((select jsonb_agg(to_jsonb(c)) from public.competencies c, me
                              where c.consultant_id = me.id), '[]'),
    'availability_settings', (select to_jsonb(s) from public.availability_settings s, me
                              where s.consultant_id = me.id),
    'weekly_hours', coalesce((select jsonb_agg(to_jsonb(h)) from public.weekly_hours h, me
                              where h.consultant_id = me.id), '[]'),
    'date_overrides', coalesce((select jsonb_agg(to_jsonb(o)) from public.date_overrides o, me
                                where o.consultant_id = me.id), '[]'),
    'time_off', coalesce((select jsonb_agg(to_jsonb(t)) from public.time_off t, me where t.consultant_id = me.id),
                         '[]'),
    'affiliations', coalesce((select jsonb_agg(to_jsonb(a)) from public.affiliations a, me
                              where a.member_id = me.id), '[]'),
    'declared_relationships', coalesce((select jsonb_agg(to_jsonb(d)) from public.declared_relationships d, me
                                        where d.declarer_id = me.id), '[]'),
    'consultation_requests', coalesce((select jsonb_agg(to_jsonb(r)) from public.consultation_requests r, me
                                       where me.id in (r.seeker_id, r.consultant_id)), '[]'),
    'engagements', coalesce((select jsonb_agg(to_jsonb(e)) from public.engagements e, me
                             where me.id in (e.seeker_id, e.consultant_id)), '[]'),
    'appointments', coalesce((select jsonb_agg(to_jsonb(a)) from public.appointments a, me
                              where me.id in (a.consultant_id, a.client_id)), '[]'),
    'termination_plans', coalesce((select jsonb_agg(to_jsonb(p)) from public.termination_plans p, me
                                   where me.id in (p.seeker_id, p.consultant_id)), '[]'),
    'termination_plan_versions', coalesce((select jsonb_agg(to_jsonb(v) - 'initiated_by')
                                           from public.termination_plan_versions v
                                           join public.termination_plans p on p.id = v.plan_id, me
                                           where me.id in (p.seeker_id, p.consultant_id)), '[]'),
    'termination_signatures', coalesce((select jsonb_agg(to_jsonb(s)) from public.termination_signatures s, me
                                        where s.signer_id = me.id), '[]'),
    'conflict_waivers', coalesce((select jsonb_agg(jsonb_build_object(
                                    'with', case when w.seeker_id = me.id then w.consultant_id else w.seeker_id end,
                                    'my_rationale', case when w.seeker_id = me.id then w.seeker_rationale
                                                         else w.consultant_rationale end,
                                    'i_signed_at', case when w.seeker_id = me.id then w.seeker_signed_at
                                                        else w.consultant_signed_at end))
                                  from public.conflict_waivers w, me
                                  where me.id in (w.seeker_id, w.consultant_id)), '[]'),
    'screening_log', coalesce((select jsonb_agg(jsonb_build_object('created_at', l.created_at, 'context', l.context,
                                                                   'level', l.level, 'checked_by_me',
                                                                   l.checked_by = me.id))
                               from public.screening_log l, me
                               where l.checked_by = me.id
                                  or (me.id in (l.seeker_id, l.consultant_id)
                                      and l.context in ('on_demand', 'request', 'accept'))), '[]'),
    'notifications', coalesce((select jsonb_agg(to_jsonb(n)) from public.notifications n, me
                               where n.user_id = me.id), '[]'),
    -- Who the ids above are: the members your records name (the other party of each request,
    -- engagement, session, plan and waiver, and the consultants you declared a relationship
    -- with), by the name the portal shows you. Nobody else.
    'people', coalesce((select jsonb_agg(jsonb_build_object('id', p.id, 'display_name', p.display_name)
                                         order by p.display_name, p.id)
                        from public.profiles p
                        where p.id in (
                          select d.counterpart_id from public.declared_relationships d, me
                          where d.declarer_id = me.id and d.counterpart_id is not null
                          union select case when r.seeker_id = me.id then r.consultant_id else r.seeker_id end
                          from public.consultation_requests r, me where me.id in (r.seeker_id, r.consultant_id)
                          union select case when e.seeker_id = me.id then e.consultant_id else e.seeker_id end
                          from public.engagements e, me where me.id in (e.seeker_id, e.consultant_id)
                          union select case when a.client_id = me.id then a.consultant_id else a.client_id end
                          from public.appointments a, me where me.id in (a.consultant_id, a.client_id)
                          union select case when t.seeker_id = me.id then t.consultant_id else t.seeker_id end
                          from public.termination_plans t, me where me.id in (t.seeker_id, t.consultant_id)
                          union select case when w.seeker_id = me.id then w.consultant_id else w.seeker_id end
                          from public.conflict_waivers w, me where me.id in (w.seeker_id, w.consultant_id))), '[]'))
$$;

