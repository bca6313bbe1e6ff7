-- Home: what needs the member's attention now. My data: everything the portal
-- holds about them, and deleting the account while the other party's records
-- stay whole (a tombstone keeps the name "Former member").

alter table public.profiles add column deleted_at timestamptz;

create function public.my_home()
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  with me as (select auth.uid() as id)
  select jsonb_build_object(
    'requests_to_answer', (select count(*) from public.consultation_requests r, me
                           where r.consultant_id = me.id and r.status = 'pending'),
    'requests_waiting', (select count(*) from public.consultation_requests r, me
                         where r.seeker_id = me.id and r.status = 'pending'),
    'bookings_to_confirm', (select count(*) from public.appointments a, me
                            where me.id in (a.consultant_id, a.client_id) and a.requested_by <> me.id
                              and a.status = 'requested' and a.starts_at > now()),
    'plans_to_sign', (select count(*) from public.termination_plans p, me
                      where me.id in (p.seeker_id, p.consultant_id) and p.status = 'proposed'
                        and not exists (select 1 from public.termination_signatures s
                                        where s.plan_id = p.id and s.version = p.current_version
                                          and s.signer_id = me.id)),
    'waivers_to_answer', (select count(*) from public.conflict_waivers w, me
                          where (w.seeker_id = me.id and w.seeker_signed_at is null and w.consultant_signed_at is not null)
                             or (w.consultant_id = me.id and w.consultant_signed_at is null
                                 and w.seeker_signed_at is not null)),
    'unread_notifications', (select count(*) from public.notifications n, me
                             where n.user_id = me.id and n.read_at is null),
    'upcoming', coalesce((select jsonb_agg(x order by x.starts_at) from (
                  select a.starts_at, a.status,
                         (select display_name from public.profiles
                          where id = case when a.consultant_id = me.id then a.client_id else a.consultant_id end)
                           as other_name
                  from public.appointments a, me
                  where me.id in (a.consultant_id, a.client_id) and a.status in ('requested', 'confirmed')
                    and a.starts_at > now()
                  order by a.starts_at limit 5) x), '[]'),
    'capacity', (select jsonb_build_object('active', s.active_clients, 'capacity', s.capacity,
                                           'accepting', s.accepting_new_clients)
                 from public.availability_settings s join public.profiles p on p.id = s.consultant_id, me
                 where s.consultant_id = me.id and p.is_consultant))
$$;
revoke all on function public.my_home() from public, anon;
grant execute on function public.my_home() to authenticated;

-- Everything the portal holds about the caller, as JSON, by topic. Screening
-- entries carry levels only, and nothing the other party declared is included.
create function public.export_my_data()
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
    'termination_plan_versions', coalesce((select jsonb_agg(to_jsonb(v)) from public.termination_plan_versions v
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
                               where n.user_id = me.id), '[]'))
$$;
revoke all on function public.export_my_data() from public, anon;
grant execute on function public.export_my_data() to authenticated;

-- Delete my account. What is mine alone goes; what I share with others stays,
-- under a tombstone name, so their records remain whole. Sign-in is removed.
create function public.delete_my_account(p_confirm_username text)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  me uuid := auth.uid();
  username text;
begin
  if me is null then
    raise exception 'Sign in to delete your account.' using errcode = '42501';
  end if;
  select c.username into username from private.credentials c where c.user_id = me;
  if username is null or lower(btrim(coalesce(p_confirm_username, ''))) <> username then
    raise exception 'Type your username to confirm.' using detail = 'confirm';
  end if;
  -- Open commitments end: pending requests are withdrawn, upcoming sessions cancelled, open plans withdrawn.
  update public.consultation_requests set status = 'withdrawn', responded_at = now()
  where me in (seeker_id, consultant_id) and status = 'pending';
  update public.appointments set status = 'cancelled', cancelled_by = me, cancelled_at = now(),
         cancel_reason = 'Account deleted', notice_hours = round(extract(epoch from starts_at - now()) / 3600.0, 1)
  where me in (consultant_id, client_id) and status in ('requested', 'confirmed') and starts_at > now();
  update public.termination_plans set status = 'withdrawn', withdraw_reason = 'Account deleted', closed_at = now()
  where me in (seeker_id, consultant_id) and status in ('draft', 'proposed', 'agreed');
  update public.engagements set status = 'ended', ended_at = now()
  where me in (seeker_id, consultant_id) and status = 'active';
  delete from public.affiliations where member_id = me;
  delete from public.declared_relationships where declarer_id = me;
  delete from public.licenses where profile_id = me;
  delete from public.competencies where consultant_id = me;
  delete from public.weekly_hours where consultant_id = me;
  delete from public.date_overrides where consultant_id = me;
  delete from public.time_off where consultant_id = me;
  delete from public.notifications where user_id = me;
  delete from private.credentials where user_id = me;
  update public.profiles set
    display_name = 'Former member', pronouns = null, languages = '{en}', offers_telehealth = true,
    offers_in_person = false, city = null, fee_usd = null, sliding_scale = false, years_in_practice = null,
    bio = null, is_consultant = false, deleted_at = now(), version = version + 1, updated_at = now()
  where id = me;
  insert into public.audit_log (actor_id, action, detail) values (me, 'account_deleted', '{}');
end;
$$;
revoke all on function public.delete_my_account(text) from public, anon;
grant execute on function public.delete_my_account(text) to authenticated;
