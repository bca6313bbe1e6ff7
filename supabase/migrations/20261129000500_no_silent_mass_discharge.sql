-- No silent mass discharge.
--
-- A consultant with active clients could end every engagement at once by deleting their account:
-- no plan, no notice, no referral (and the Account page's promise that "the other party is told"
-- was not kept: nobody was notified). Now:
--   * a consultant's own deletion is refused while they still work with anyone, with a sentence
--     naming each client and the way forward (agree an ending, or a safety plan with its written
--     justification, under Termination plans);
--   * an admin may close such an account for a documented reason (audited), and every affected
--     client is notified;
--   * whoever closes an account, the other party of every engagement, request, session and plan
--     it ends is told.
-- Closing intake never ended engagements and still does not (tests hold it).
--
-- A closed account's username is retired for good: a sign-in cookie naming it could otherwise
-- open whoever registered that name next (issue 16, item 8).

create table private.retired_usernames (
  username   text primary key,
  retired_at timestamptz not null default now()
);
alter table private.retired_usernames enable row level security;  -- no policy: no API role reads a row
revoke all on private.retired_usernames from public, anon, authenticated, service_role;
grant select on private.retired_usernames to service_role;  -- registration (auth_register) runs as service_role

create function private.refuse_retired_usernames()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if exists (select 1 from private.retired_usernames r where r.username = new.username) then
    raise exception 'duplicate key value violates unique constraint "credentials_username_key"'
      using errcode = 'unique_violation', detail = 'That username belonged to a closed account; it is never reissued.';
  end if;
  return new;
end;
$$;
revoke all on function private.refuse_retired_usernames() from public, anon, authenticated, service_role;
create trigger credentials_refuse_retired_usernames before insert or update of username on private.credentials
  for each row execute function private.refuse_retired_usernames();

-- What closing an account does, whoever closes it. p_user's shared records stay whole under a
-- tombstone; what is theirs alone goes.
create function private.close_account(p_user uuid, p_why text)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  name text := (select display_name from public.profiles where id = p_user);
  told uuid;
begin
  for told in
    select distinct other from (
      select case when e.seeker_id = p_user then e.consultant_id else e.seeker_id end as other
      from public.engagements e where p_user in (e.seeker_id, e.consultant_id) and e.status = 'active'
      union
      select case when r.seeker_id = p_user then r.consultant_id else r.seeker_id end
      from public.consultation_requests r where p_user in (r.seeker_id, r.consultant_id) and r.status = 'pending'
      union
      select case when a.client_id = p_user then a.consultant_id else a.client_id end
      from public.appointments a
      where p_user in (a.consultant_id, a.client_id) and a.status in ('requested', 'confirmed') and a.starts_at > now()
    ) others
  loop
    perform private.notify(told, 'account_closed',
                           name || '''s account was closed (' || p_why || '). Your open requests, sessions and '
                           || 'plans with them have ended.', 'requests');
  end loop;

  update public.consultation_requests set status = 'withdrawn', responded_at = now()
  where p_user in (seeker_id, consultant_id) and status = 'pending';
  update public.appointments set status = 'cancelled', cancelled_by = p_user, cancelled_at = now(),
         cancel_reason = 'Account closed', notice_hours = round(extract(epoch from starts_at - now()) / 3600.0, 1)
  where p_user in (consultant_id, client_id) and status in ('requested', 'confirmed') and starts_at > now();
  update public.termination_plans set status = 'withdrawn', withdraw_reason = 'Account closed', closed_at = now()
  where p_user in (seeker_id, consultant_id) and status in ('draft', 'proposed', 'agreed');
  update public.engagements set status = 'ended', ended_at = now()
  where p_user in (seeker_id, consultant_id) and status = 'active';
  delete from public.affiliations where member_id = p_user;
  delete from public.declared_relationships where declarer_id = p_user;
  delete from public.licenses where profile_id = p_user;
  delete from public.competencies where consultant_id = p_user;
  delete from public.weekly_hours where consultant_id = p_user;
  delete from public.date_overrides where consultant_id = p_user;
  delete from public.time_off where consultant_id = p_user;
  delete from public.notifications where user_id = p_user;
  insert into private.retired_usernames (username)
  select c.username from private.credentials c where c.user_id = p_user on conflict do nothing;
  delete from private.credentials where user_id = p_user;
  update public.profiles set
    display_name = 'Former member', pronouns = null, languages = '{en}', offers_telehealth = true,
    offers_in_person = false, city = null, fee_usd = null, sliding_scale = false, years_in_practice = null,
    bio = null, is_consultant = false, home_jurisdiction = null, deleted_at = now(), version = version + 1,
    updated_at = now()
  where id = p_user;
end;
$$;
revoke all on function private.close_account(uuid, text) from public, anon, authenticated, service_role;

-- The clients a consultant still works with, as a sentence ("Ana Diaz (since 3 Mar 2026) and ...").
create function private.active_clients_sentence(p_consultant uuid)
returns text
language sql
stable
security definer
set search_path = ''
as $$
  select string_agg(p.display_name || ' (since ' || to_char(e.started_at, 'FMDD Mon YYYY') || ')', ', '
                    order by e.started_at, p.display_name)
  from public.engagements e join public.profiles p on p.id = e.seeker_id
  where e.consultant_id = p_consultant and e.status = 'active'
$$;
revoke all on function private.active_clients_sentence(uuid) from public, anon, authenticated, service_role;

create or replace function public.delete_my_account(p_confirm_username text)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  me uuid := auth.uid();
  username text;
  clients text;
begin
  if me is null then
    raise exception 'Sign in to delete your account.' using errcode = '42501';
  end if;
  select c.username into username from private.credentials c where c.user_id = me;
  if username is null or lower(btrim(coalesce(p_confirm_username, ''))) <> username then
    raise exception 'Type your username to confirm.' using detail = 'confirm';
  end if;
  clients := private.active_clients_sentence(me);
  if clients is not null then
    raise exception 'You still work with: %. Deleting your account now would end that work without notice.', clients
      using detail = 'engagements',
            hint = 'Agree an ending with each of them under Termination plans first (where safety requires an '
                   'immediate ending, a plan with its written justification); then delete your account.';
  end if;
  perform private.close_account(me, 'deleted by its owner');
  insert into public.audit_log (actor_id, action, detail) values (me, 'account_deleted', '{}');
end;
$$;

-- An admin closes an account that still has clients, for a documented reason; audited.
create function public.admin_close_account(p_user uuid, p_reason text)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  clients integer;
begin
  if not public.is_admin() then
    raise exception 'Only administrators can close another member''s account.' using errcode = '42501';
  end if;
  if p_user = auth.uid() then
    raise exception 'Close your own account from the Account page.' using detail = 'user';
  end if;
  if char_length(btrim(coalesce(p_reason, ''))) < 20 then
    raise exception 'Give the reason for closing this account (at least 20 characters); every affected client reads it.'
      using detail = 'reason';
  end if;
  if not exists (select 1 from private.credentials c where c.user_id = p_user) then
    raise exception 'No such account.' using errcode = 'P0002';
  end if;
  select count(*) into clients from public.engagements e where e.consultant_id = p_user and e.status = 'active';
  insert into public.audit_log (actor_id, action, detail)
  values (auth.uid(), 'account_closed_by_admin',
          jsonb_build_object('user', p_user, 'reason', btrim(p_reason), 'active_clients', clients));
  perform private.close_account(p_user, 'closed by the portal''s administrator: ' || btrim(p_reason));
  return jsonb_build_object('clients_notified', clients);
end;
$$;
revoke all on function public.admin_close_account(uuid, text) from public, anon, authenticated;
grant execute on function public.admin_close_account(uuid, text) to portal_member;
