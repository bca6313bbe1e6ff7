-- A plan says when it ended (#15).
--
-- The page said "This plan ended on <date>" from the plan's last change (updated_at): closing or deleting an
-- account withdraws its plans without touching updated_at, so the date could be days or months too early.
-- The plans' list now returns closed_at, which every way of ending a plan sets. The function is otherwise the
-- one …1300 defined.

create or replace function public.my_termination_plans()
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(jsonb_agg(jsonb_build_object(
    'id', p.id, 'engagement_id', p.engagement_id, 'status', p.status, 'current_version', p.current_version,
    'my_role', case when p.seeker_id = auth.uid() then 'client' else 'consultant' end,
    'other_id', case when p.seeker_id = auth.uid() then p.consultant_id else p.seeker_id end,
    'other_name', (select display_name from public.profiles
                   where id = case when p.seeker_id = auth.uid() then p.consultant_id else p.seeker_id end),
    'created_at', p.created_at, 'updated_at', p.updated_at, 'closed_at', p.closed_at, 'withdraw_reason', p.withdraw_reason,
    'versions', (select jsonb_agg(to_jsonb(v) || jsonb_build_object(
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
