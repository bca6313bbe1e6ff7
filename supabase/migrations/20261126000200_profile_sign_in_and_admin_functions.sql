-- The RPC API for the foundation: reading and saving one's own profile,
-- reference lists, sign-in support for the server (service_role only), and
-- the admin's account list.

-- ---------------------------------------------------------------------------
-- Reference lists (members only)
-- ---------------------------------------------------------------------------
create function public.list_jurisdictions()
returns setof public.jurisdictions
language sql
stable
set search_path = ''
as $$
  select * from public.jurisdictions order by country desc, name
$$;

create function public.list_languages()
returns setof public.languages
language sql
stable
set search_path = ''
as $$
  select * from public.languages order by name
$$;

revoke all on function public.list_jurisdictions(), public.list_languages() from public, anon;
grant execute on function public.list_jurisdictions(), public.list_languages()
  to authenticated, service_role;

-- ---------------------------------------------------------------------------
-- My profile
-- ---------------------------------------------------------------------------
create function public.profile_document(p_id uuid)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select to_jsonb(p) || jsonb_build_object(
    'licenses', coalesce((
      select jsonb_agg(to_jsonb(l) - 'profile_id' order by l.jurisdiction)
      from public.licenses l where l.profile_id = p.id), '[]'::jsonb))
  from public.profiles p
  where p.id = p_id
$$;
revoke all on function public.profile_document(uuid) from public, anon;
grant execute on function public.profile_document(uuid) to authenticated, service_role;

create function public.get_my_profile()
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
declare
  doc jsonb;
begin
  if auth.uid() is null then
    raise exception 'Sign in to see your profile.' using errcode = '42501';
  end if;
  doc := public.profile_document(auth.uid());
  if doc is null then
    raise exception 'No profile exists for this account.'
      using errcode = 'P0002', hint = 'Sign out and in again; if it persists, contact the admin.';
  end if;
  return doc;
end;
$$;
revoke all on function public.get_my_profile() from public, anon;
grant execute on function public.get_my_profile() to authenticated;

-- Saves the whole profile form at once. p_expected_version is the version the
-- form was loaded from: if someone saved in between, nothing is written and
-- the caller is told, so no edit silently overwrites another.
create function public.save_my_profile(p_profile jsonb, p_licenses jsonb, p_expected_version integer)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
  me uuid := auth.uid();
  bad_language text;
  lic jsonb;
  kept_jurisdictions text[] := '{}';
begin
  if me is null then
    raise exception 'Sign in to change your profile.' using errcode = '42501';
  end if;
  if jsonb_typeof(p_profile) is distinct from 'object' then
    raise exception 'The profile must be a JSON object.' using errcode = '22023';
  end if;
  if jsonb_typeof(coalesce(p_licenses, '[]')) is distinct from 'array' then
    raise exception 'Licences must be a JSON array.' using errcode = '22023';
  end if;

  select l into bad_language
  from jsonb_array_elements_text(coalesce(p_profile -> 'languages', '[]')) l
  where not exists (select 1 from public.languages x where x.code = l)
  limit 1;
  if bad_language is not null then
    raise exception 'Unknown language code "%".', left(bad_language, 20)
      using detail = 'languages', hint = 'Pick languages from the list.';
  end if;

  update public.profiles p set
    display_name      = btrim(p_profile ->> 'display_name'),
    pronouns          = nullif(btrim(p_profile ->> 'pronouns'), ''),
    languages         = array(select jsonb_array_elements_text(coalesce(p_profile -> 'languages', '[]'))),
    offers_telehealth = coalesce((p_profile ->> 'offers_telehealth')::boolean, false),
    offers_in_person  = coalesce((p_profile ->> 'offers_in_person')::boolean, false),
    city              = nullif(btrim(p_profile ->> 'city'), ''),
    fee_usd           = (p_profile ->> 'fee_usd')::integer,
    sliding_scale     = coalesce((p_profile ->> 'sliding_scale')::boolean, false),
    years_in_practice = (p_profile ->> 'years_in_practice')::integer,
    timezone          = p_profile ->> 'timezone',
    bio               = nullif(btrim(p_profile ->> 'bio'), ''),
    is_consultant     = coalesce((p_profile ->> 'is_consultant')::boolean, false),
    version           = p.version + 1,
    updated_at        = now()
  where p.id = me and p.version = p_expected_version;

  if not found then
    if exists (select 1 from public.profiles where id = me) then
      raise exception 'Your profile was changed elsewhere since this form was opened.'
        using detail = 'version',
              hint = 'Nothing was saved. Reload the latest version, then apply your changes again.';
    end if;
    raise exception 'No profile exists for this account.' using errcode = 'P0002';
  end if;

  for lic in select * from jsonb_array_elements(coalesce(p_licenses, '[]')) loop
    if lic ->> 'jurisdiction' = any (kept_jurisdictions) then
      raise exception 'Two licences name jurisdiction %.', lic ->> 'jurisdiction'
        using detail = 'licenses', hint = 'Keep one licence per state or province.';
    end if;
    kept_jurisdictions := kept_jurisdictions || (lic ->> 'jurisdiction');

    insert into public.licenses as l (profile_id, license_type, license_number, jurisdiction, expires_on)
    values (me, btrim(lic ->> 'license_type'), btrim(lic ->> 'license_number'),
            lic ->> 'jurisdiction', (lic ->> 'expires_on')::date)
    on conflict (profile_id, jurisdiction) do update
      set license_type = excluded.license_type,
          license_number = excluded.license_number,
          expires_on = excluded.expires_on
      where (l.license_type, l.license_number, l.expires_on)
            is distinct from (excluded.license_type, excluded.license_number, excluded.expires_on);
  end loop;

  delete from public.licenses
  where profile_id = me and not (jurisdiction = any (kept_jurisdictions));

  return public.profile_document(me);
end;
$$;
revoke all on function public.save_my_profile(jsonb, jsonb, integer) from public, anon;
grant execute on function public.save_my_profile(jsonb, jsonb, integer) to authenticated;

-- ---------------------------------------------------------------------------
-- Sign-in support. Called by the portal's server with a service_role token,
-- never by a member: these read and write password hashes.
-- ---------------------------------------------------------------------------
create function public.auth_get_login(p_username text)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select jsonb_build_object(
    'id', c.user_id,
    'username', c.username,
    'email', c.email,
    'display_name', p.display_name,
    'password_hash', c.password_hash,
    'is_admin', c.is_admin,
    'is_consultant', p.is_consultant,  -- the app shows consultant pages from sign-in on
    'failed_attempts', case when c.locked_until > now() then 5 else c.failed_attempts end,
    'locked_until', case when c.locked_until > now() then c.locked_until end)
  from private.credentials c
  join public.profiles p on p.id = c.user_id
  where c.username = lower(btrim(p_username))
$$;

create function public.auth_register(p_username text, p_email text, p_display_name text,
                                     p_password_hash text)
returns uuid
language plpgsql
volatile
set search_path = ''
as $$
declare
  new_id uuid;
begin
  insert into public.profiles (display_name) values (btrim(p_display_name))
  returning id into new_id;
  insert into private.credentials (user_id, username, email, password_hash)
  values (new_id, lower(btrim(p_username)), btrim(p_email), p_password_hash);
  return new_id;
end;
$$;

-- Counts a failed attempt atomically; the fifth in a row locks the account
-- for 15 minutes. Returns the state the sign-in page reports.
create function public.auth_record_failed_login(p_username text)
returns jsonb
language sql
volatile
set search_path = ''
as $$
  update private.credentials c set
    failed_attempts = case
      when c.locked_until > now() then c.failed_attempts
      when c.failed_attempts + 1 >= 5 then 0
      else c.failed_attempts + 1 end,
    locked_until = case
      when c.locked_until > now() then c.locked_until
      when c.failed_attempts + 1 >= 5 then now() + interval '15 minutes'
      else null end
  where c.username = lower(btrim(p_username))
  returning jsonb_build_object(
    'failed_attempts', case when c.locked_until > now() then 5 else c.failed_attempts end,
    'locked_until', case when c.locked_until > now() then c.locked_until end)
$$;

create function public.auth_clear_failed_logins(p_username text)
returns void
language sql
volatile
set search_path = ''
as $$
  update private.credentials
  set failed_attempts = 0, locked_until = null
  where username = lower(btrim(p_username))
$$;

create function public.auth_set_password_hash(p_username text, p_password_hash text)
returns void
language plpgsql
volatile
set search_path = ''
as $$
begin
  update private.credentials
  set password_hash = p_password_hash, failed_attempts = 0, locked_until = null
  where username = lower(btrim(p_username));
  if not found then
    raise exception 'No account with that username.' using errcode = 'P0002';
  end if;
end;
$$;

revoke all on function
  public.auth_get_login(text),
  public.auth_register(text, text, text, text),
  public.auth_record_failed_login(text),
  public.auth_clear_failed_logins(text),
  public.auth_set_password_hash(text, text)
from public, anon, authenticated;
grant execute on function
  public.auth_get_login(text),
  public.auth_register(text, text, text, text),
  public.auth_record_failed_login(text),
  public.auth_clear_failed_logins(text),
  public.auth_set_password_hash(text, text)
to service_role;

-- ---------------------------------------------------------------------------
-- Admin: the account list with lock state, and unlocking.
-- SECURITY DEFINER: reads private.credentials; checks the caller is an admin.
-- ---------------------------------------------------------------------------
create function public.admin_list_accounts(p_query text default '', p_limit integer default 50,
                                           p_offset integer default 0)
returns table (id uuid, username text, display_name text, is_consultant boolean,
               is_admin boolean, license_count integer, locked_until timestamptz,
               created_at timestamptz, total bigint)
language plpgsql
stable
security definer
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
    order by p.display_name, p.id
    limit least(greatest(coalesce(p_limit, 50), 1), 200)
    offset greatest(coalesce(p_offset, 0), 0);
end;
$$;

create function public.admin_unlock_account(p_user_id uuid)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
  if not public.is_admin() then
    raise exception 'Only administrators can unlock accounts.' using errcode = '42501';
  end if;
  update private.credentials
  set failed_attempts = 0, locked_until = null
  where user_id = p_user_id;
  if not found then
    raise exception 'No account with that id.' using errcode = 'P0002';
  end if;
end;
$$;

revoke all on function public.admin_list_accounts(text, integer, integer),
                       public.admin_unlock_account(uuid) from public, anon;
grant execute on function public.admin_list_accounts(text, integer, integer),
                          public.admin_unlock_account(uuid) to authenticated;
