-- Issue 26, item 1: closing an account is no longer one click. Before admin_close_account, the admin reads what it
-- will end, from the same rows private.close_account changes: the clients named, the active engagements, the
-- upcoming sessions it cancels, the open plans it withdraws, the pending requests, and who is told. And the admin
-- finds any account by name, username or email (the picker listed only the page of the table on screen).

-- ---------------------------------------------------------------------------
-- admin_closure_preview: what admin_close_account(p_member, ...) would end, read now.
-- SECURITY DEFINER: reads other members' engagements, sessions, plans and requests; checks the caller is an admin.
-- ---------------------------------------------------------------------------
create or replace function public.admin_closure_preview(p_member uuid)
returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
declare
  member record;
begin
  if not public.is_admin() then
    raise exception 'Only administrators can see what closing an account ends.' using errcode = '42501';
  end if;
  select p.id, p.display_name, c.username, p.is_consultant, c.is_admin into member
  from public.profiles p join private.credentials c on c.user_id = p.id
  where p.id = p_member;
  if not found then
    raise exception 'No such account.' using errcode = 'PT404';
  end if;
  return jsonb_build_object(
    'member', jsonb_build_object('id', member.id, 'display_name', member.display_name, 'username', member.username,
                                 'is_consultant', member.is_consultant, 'is_admin', member.is_admin),
    -- The same conditions as private.close_account's updates, so the preview is what the closure does.
    'engagements', coalesce((
      select jsonb_agg(jsonb_build_object(
               'id', e.id, 'consultant', pc.display_name, 'client', ps.display_name, 'started_at', e.started_at,
               'their_client', e.consultant_id = p_member)
             order by e.started_at, ps.display_name)
      from public.engagements e
      join public.profiles pc on pc.id = e.consultant_id
      join public.profiles ps on ps.id = e.seeker_id
      where p_member in (e.seeker_id, e.consultant_id) and e.status = 'active'), '[]'),
    'sessions', coalesce((
      select jsonb_agg(jsonb_build_object(
               'id', a.id, 'starts_at', a.starts_at, 'ends_at', a.ends_at, 'status', a.status,
               'consultant', pc.display_name, 'client', ps.display_name)
             order by a.starts_at)
      from public.appointments a
      join public.profiles pc on pc.id = a.consultant_id
      join public.profiles ps on ps.id = a.client_id
      where p_member in (a.consultant_id, a.client_id) and a.status in ('requested', 'confirmed')
        and a.starts_at > now()), '[]'),
    'plans', coalesce((
      select jsonb_agg(jsonb_build_object(
               'id', t.id, 'status', t.status, 'consultant', pc.display_name, 'client', ps.display_name)
             order by t.created_at)
      from public.termination_plans t
      join public.profiles pc on pc.id = t.consultant_id
      join public.profiles ps on ps.id = t.seeker_id
      where p_member in (t.seeker_id, t.consultant_id) and t.status in ('draft', 'proposed', 'agreed')), '[]'),
    'requests', coalesce((
      select jsonb_agg(jsonb_build_object(
               'id', r.id, 'consultant', pc.display_name, 'seeker', ps.display_name, 'created_at', r.created_at)
             order by r.created_at)
      from public.consultation_requests r
      join public.profiles pc on pc.id = r.consultant_id
      join public.profiles ps on ps.id = r.seeker_id
      where p_member in (r.seeker_id, r.consultant_id) and r.status = 'pending'), '[]'),
    'told', coalesce((
      select jsonb_agg(p.display_name order by p.display_name)
      from public.profiles p
      where p.id in (
        select case when e.seeker_id = p_member then e.consultant_id else e.seeker_id end
        from public.engagements e where p_member in (e.seeker_id, e.consultant_id) and e.status = 'active'
        union
        select case when r.seeker_id = p_member then r.consultant_id else r.seeker_id end
        from public.consultation_requests r where p_member in (r.seeker_id, r.consultant_id) and r.status = 'pending'
        union
        select case when a.client_id = p_member then a.consultant_id else a.client_id end
        from public.appointments a
        where p_member in (a.consultant_id, a.client_id) and a.status in ('requested', 'confirmed')
          and a.starts_at > now())), '[]'));
end;
$$;
revoke all on function public.admin_closure_preview(uuid) from public, anon, authenticated;
grant execute on function public.admin_closure_preview(uuid) to portal_member;

-- ---------------------------------------------------------------------------
-- admin_list_accounts: as before (20261126000200), and a query also finds an account by its email address.
-- SECURITY DEFINER: reads private.credentials; checks the caller is an admin. Emails are matched, never returned.
-- ---------------------------------------------------------------------------
create or replace function public.admin_list_accounts(p_query text default '', p_limit integer default 50,
                                                      p_offset integer default 0)
returns table (id uuid, username text, display_name text, is_consultant boolean, is_admin boolean,
               license_count integer, locked_until timestamptz, created_at timestamptz, total bigint)
language plpgsql stable security definer
set search_path = ''
as $$
begin
  if not public.is_admin() then
    raise exception 'Only administrators can list accounts.' using errcode = '42501';
  end if;
  return query
    select p.id, c.username, p.display_name, p.is_consultant, c.is_admin,
           (select count(*)::integer from public.licenses l where l.profile_id = p.id),
           case when c.locked_until > now() then c.locked_until end,
           p.created_at, count(*) over ()
    from public.profiles p
    join private.credentials c on c.user_id = p.id
    where coalesce(p_query, '') = ''
       or p.display_name ilike '%' || p_query || '%'
       or c.username ilike '%' || p_query || '%'
       or c.email ilike '%' || p_query || '%'
    order by p.display_name, p.id
    limit least(greatest(coalesce(p_limit, 50), 1), 200)
    offset greatest(coalesce(p_offset, 0), 0);
end;
$$;
