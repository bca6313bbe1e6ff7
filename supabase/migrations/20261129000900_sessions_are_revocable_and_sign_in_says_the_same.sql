-- Sessions are revocable, and sign-in says the same for every name (issue 16, items 7 and 8).
--
-- Item 7. A real account locked after five failures while a made-up name never did, and only a
-- real name's password was checked (bcrypt, the slow part): both told a stranger which usernames exist.
-- Now failures are counted per typed name whether or not an account has it. A real account's
-- count stays in private.credentials (admins see and lift it there); any other name is counted in
-- private.sign_in_failures, keyed by the cleaned name (lower(btrim(name)), first 100 characters),
-- with the same statement, the same limit (5), the same 15-minute lock and the same answers. The
-- server checks a dummy bcrypt hash of the same cost for a name without an account
-- (portal.auth.DUMMY_PASSWORD_HASH), so the wrong-password path has one shape for both.
-- auth_sign_in_record is the sign-in form's one lookup: an account's record, or, for any other
-- name, a record without an id or hash whose count and lock are that name's.
--
-- Item 8. The sign-in cookie (streamlit-authenticator signs {username, exp_date}) could not be
-- revoked: it still opened the account after sign-out, after a password change, and (before
-- usernames were retired) opened a new account registered under a closed one's name. Now every
-- counted success opens a row in private.sign_in_sessions; the cookie also names the account's
-- user id and that row's id, and the app's gate asks auth_session_alive on every run. Sign-out
-- deletes the row (auth_close_session), "Sign out everywhere" and a password change delete all
-- of the account's rows, and closing an account deletes its credentials and, by the foreign key,
-- every session. A session lasts as long as the cookie (7 days) and no longer.

-- ---------------------------------------------------------------------------------------------
-- Failures counted per typed name
-- ---------------------------------------------------------------------------------------------
create table private.sign_in_failures (
  username        text primary key check (char_length(username) between 1 and 100),
  failed_attempts integer not null default 0 check (failed_attempts between 0 and 5),
  locked_until    timestamptz
);
-- A row whose lock has run out says what no row says (0 failures, not locked): such rows are
-- removed as failures are counted, so the table holds only what is still counting.
create index sign_in_failures_locked_until_idx on private.sign_in_failures (locked_until);
alter table private.sign_in_failures enable row level security;  -- no policy: no API role reads a row
revoke all on private.sign_in_failures from public, anon, authenticated, portal_member;
grant select, insert, update, delete on private.sign_in_failures to service_role;

-- ---------------------------------------------------------------------------------------------
-- Sessions: one row per signed-in browser; the cookie names it
-- ---------------------------------------------------------------------------------------------
create table private.sign_in_sessions (
  id         uuid primary key default gen_random_uuid(),
  user_id    uuid not null references private.credentials (user_id) on delete cascade,
  opened_at  timestamptz not null default now(),
  expires_at timestamptz not null
);
create index sign_in_sessions_user_idx on private.sign_in_sessions (user_id);
create index sign_in_sessions_expires_idx on private.sign_in_sessions (expires_at);
alter table private.sign_in_sessions enable row level security;  -- no policy: no API role reads a row
revoke all on private.sign_in_sessions from public, anon, authenticated, portal_member;
grant select, insert, update, delete on private.sign_in_sessions to service_role;  -- update: the purge locks rows (for update)

-- The sign-in form's lookup: the account's record, or the same fields for a name without one
-- (id, email and hash null; the count and lock are that name's). Same columns, same order.
create function public.auth_sign_in_record(p_username text)
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
declare
  typed text := left(lower(btrim(coalesce(p_username, ''))), 100);
  account jsonb := public.auth_get_login(typed);
begin
  if account is not null then
    return account;
  end if;
  return (
    select jsonb_build_object(
      'id', null,
      'username', typed,
      'email', null,
      'display_name', null,
      'password_hash', null,
      'is_admin', false,
      'is_consultant', false,
      'failed_attempts', case when f.locked_until > now() then 5 else coalesce(f.failed_attempts, 0) end,
      'locked_until', case when f.locked_until > now() then f.locked_until end)
    from (select typed as username) t
    left join private.sign_in_failures f on f.username = t.username);
end;
$$;

-- Counts a failed attempt atomically for the typed name, account or not; the fifth in a row
-- locks the name for 15 minutes. Returns the state the sign-in page reports, the same for both.
create or replace function public.auth_record_failed_login(p_username text)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
  typed text := left(lower(btrim(coalesce(p_username, ''))), 100);
  state jsonb;
begin
  update private.credentials c set
    failed_attempts = case
      when c.locked_until > now() then c.failed_attempts
      when c.failed_attempts + 1 >= 5 then 0
      else c.failed_attempts + 1 end,
    locked_until = case
      when c.locked_until > now() then c.locked_until
      when c.failed_attempts + 1 >= 5 then now() + interval '15 minutes'
      else null end
  where c.username = typed
  returning jsonb_build_object(
    'failed_attempts', case when c.locked_until > now() then 5 else c.failed_attempts end,
    'locked_until', case when c.locked_until > now() then c.locked_until end)
  into state;
  if state is not null or typed = '' then
    return coalesce(state, jsonb_build_object('failed_attempts', 0, 'locked_until', null));
  end if;

  -- Rows whose lock ran out (never one another attempt is counting right now).
  delete from private.sign_in_failures f
  where f.username in (select o.username from private.sign_in_failures o
                       where o.locked_until <= now() and o.username <> typed
                       order by o.locked_until limit 100 for update skip locked);

  insert into private.sign_in_failures as f (username, failed_attempts, locked_until)
  values (typed, 1, null)
  on conflict (username) do update set
    failed_attempts = case
      when f.locked_until > now() then f.failed_attempts
      when f.failed_attempts + 1 >= 5 then 0
      else f.failed_attempts + 1 end,
    locked_until = case
      when f.locked_until > now() then f.locked_until
      when f.failed_attempts + 1 >= 5 then now() + interval '15 minutes'
      else null end
  returning jsonb_build_object(
    'failed_attempts', case when f.locked_until > now() then 5 else f.failed_attempts end,
    'locked_until', case when f.locked_until > now() then f.locked_until end)
  into state;
  return state;
end;
$$;

-- A success counts only if the account is not locked at that moment (item 6), decided in the
-- statement that resets the count; a counted success opens a session, whose id the cookie carries.
-- A name without an account never signs in (it has no password to match).
create or replace function public.auth_record_successful_login(p_username text)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
  typed text := left(lower(btrim(coalesce(p_username, ''))), 100);
  lock timestamptz;
  account uuid;
  opened uuid;
begin
  update private.credentials c
  set failed_attempts = case when c.locked_until > now() then c.failed_attempts else 0 end,
      locked_until = case when c.locked_until > now() then c.locked_until end
  where c.username = typed
  returning c.locked_until, c.user_id into lock, account;
  if account is null then
    select f.locked_until into lock from private.sign_in_failures f
    where f.username = typed and f.locked_until > now();
    return jsonb_build_object('signed_in', false, 'locked_until', lock);
  end if;
  if lock is not null then
    return jsonb_build_object('signed_in', false, 'locked_until', lock);
  end if;
  -- Sessions past their end (never one another call is touching right now).
  delete from private.sign_in_sessions s
  where s.id in (select o.id from private.sign_in_sessions o where o.expires_at <= now()
                 order by o.expires_at limit 100 for update skip locked);
  insert into private.sign_in_sessions (user_id, expires_at)
  values (account, now() + interval '7 days')
  returning id into opened;
  return jsonb_build_object('signed_in', true, 'locked_until', null, 'session', opened);
end;
$$;

-- Is the session the cookie names still open, for that account under that username?
create function public.auth_session_alive(p_session uuid, p_user uuid, p_username text)
returns boolean
language sql
stable
set search_path = ''
as $$
  select exists (
    select 1
    from private.sign_in_sessions s
    join private.credentials c on c.user_id = s.user_id
    where s.id = p_session and s.user_id = p_user and c.username = lower(btrim(p_username))
      and s.expires_at > now())
$$;

-- Sign-out: this browser's session ends on the server, whatever becomes of the cookie.
create function public.auth_close_session(p_session uuid, p_user uuid)
returns void
language plpgsql
volatile
set search_path = ''
as $$
begin
  delete from private.sign_in_sessions where id = p_session and user_id = p_user;
end;
$$;

-- Sign out everywhere: every session of the account ends. Returns how many there were.
create function public.auth_close_all_sessions(p_user uuid)
returns integer
language plpgsql
volatile
set search_path = ''
as $$
declare
  closed integer;
begin
  delete from private.sign_in_sessions where user_id = p_user;
  get diagnostics closed = row_count;
  return closed;
end;
$$;

-- A new password ends every session of the account (the browser that changed it gets a new one
-- from the success that follows: auth_record_successful_login).
create or replace function public.auth_set_password_hash(p_username text, p_password_hash text)
returns void
language plpgsql
volatile
set search_path = ''
as $$
declare
  account uuid;
begin
  update private.credentials
  set password_hash = p_password_hash, failed_attempts = 0, locked_until = null
  where username = lower(btrim(p_username))
  returning user_id into account;
  if account is null then
    raise exception 'No account with that username.' using errcode = 'P0002';
  end if;
  delete from private.sign_in_sessions where user_id = account;
end;
$$;

revoke all on function
  public.auth_sign_in_record(text),
  public.auth_record_failed_login(text),
  public.auth_record_successful_login(text),
  public.auth_session_alive(uuid, uuid, text),
  public.auth_close_session(uuid, uuid),
  public.auth_close_all_sessions(uuid),
  public.auth_set_password_hash(text, text)
from public, anon, authenticated, portal_member;
grant execute on function
  public.auth_sign_in_record(text),
  public.auth_record_failed_login(text),
  public.auth_record_successful_login(text),
  public.auth_session_alive(uuid, uuid, text),
  public.auth_close_session(uuid, uuid),
  public.auth_close_all_sessions(uuid),
  public.auth_set_password_hash(text, text)
to service_role;
