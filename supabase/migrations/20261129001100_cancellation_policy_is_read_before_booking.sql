-- The cancellation policy is stated before anyone books, cancels or moves (#15):
-- a consultant's late-cancellation threshold and minimum notice, read by the
-- booking confirmation and the cancel/move dialog. SECURITY INVOKER: members
-- read a consultant's intake settings under the table's own policy and column
-- grants (both columns are among the readable ones).
create function public.cancellation_policy(p_consultant uuid)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select jsonb_build_object('late_cancel_hours', s.late_cancel_hours, 'min_notice_hours', s.min_notice_hours)
  from public.availability_settings s
  where s.consultant_id = p_consultant
$$;
revoke all on function public.cancellation_policy(uuid) from public, anon, authenticated;
grant execute on function public.cancellation_policy(uuid) to portal_member;
