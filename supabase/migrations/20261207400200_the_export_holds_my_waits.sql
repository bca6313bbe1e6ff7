-- The export holds my waits (issue 26, item 13): "everything the portal holds about you" includes the consultants a
-- member waits for, with when they asked, until when, and when they were told; the consultants are named under
-- `people`. A consultant's export holds no wait: who waits for them is not theirs.
-- export_my_data's latest definition (…300000_screening_shows_no_decoder), with the waitlist added.
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
    -- The consultants you asked to be told about when they have room (the waitlist: yours alone).
    'waitlist', coalesce((select jsonb_agg(jsonb_build_object('consultant_id', w.consultant_id, 'asked_at', w.asked_at,
                                                              'expires_at', w.expires_at, 'told_at', w.told_at)
                                           order by w.asked_at)
                          from public.waitlist w, me where w.seeker_id = me.id), '[]'),
    -- Who the ids above are: the members your records name (the other party of each request,
    -- engagement, session, plan and waiver, and the consultants you declared a relationship
    -- with), by the name the portal shows you. Nobody else: a declaration naming a member you may
    -- not see (the profiles policy: yourself, consultants, those who asked you) names nobody.
    'people', coalesce((select jsonb_agg(jsonb_build_object('id', p.id, 'display_name', p.display_name)
                                         order by p.display_name, p.id)
                        from public.profiles p
                        where p.id in (
                          select d.counterpart_id from public.declared_relationships d
                          join public.profiles seen on seen.id = d.counterpart_id, me
                          where d.declarer_id = me.id
                            and (seen.is_consultant
                                 or exists (select 1 from public.consultation_requests r
                                            where r.seeker_id = seen.id and r.consultant_id = me.id))
                          union select case when r.seeker_id = me.id then r.consultant_id else r.seeker_id end
                          from public.consultation_requests r, me where me.id in (r.seeker_id, r.consultant_id)
                          union select case when e.seeker_id = me.id then e.consultant_id else e.seeker_id end
                          from public.engagements e, me where me.id in (e.seeker_id, e.consultant_id)
                          union select case when a.client_id = me.id then a.consultant_id else a.client_id end
                          from public.appointments a, me where me.id in (a.consultant_id, a.client_id)
                          union select case when t.seeker_id = me.id then t.consultant_id else t.seeker_id end
                          from public.termination_plans t, me where me.id in (t.seeker_id, t.consultant_id)
                          union select case when w.seeker_id = me.id then w.consultant_id else w.seeker_id end
                          from public.conflict_waivers w, me where me.id in (w.seeker_id, w.consultant_id)
                          union select w.consultant_id from public.waitlist w, me where w.seeker_id = me.id)), '[]'))
$$;
