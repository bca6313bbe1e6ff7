-- A password change honours the lock (issue 23, item 6).
--
-- Account -> Change password checked the current password with the authenticator's own check, which
-- neither refused a locked account nor ... : wrong current passwords kept being checked after five, and
-- the right one, while locked, set a new password and cleared the lock. Now the portal checks every
-- typed password in one place (portal.auth.check_password: a locked name is refused before its password
-- is looked at, a wrong one is counted), and the new password is written only if the account is not
-- locked at that moment, decided in the statement that writes it (parallel wrong attempts may have locked
-- it since the check). A refused change says so: detail 'locked', hint the time the lock ends.
-- The reset link (auth_reset_password_by_link) still lifts the lock: it proves the address, not a guess.

create or replace function public.auth_set_password_hash(p_username text, p_password_hash text)
returns void
language plpgsql
volatile
set search_path = ''
as $$
declare
  account uuid;
  lock timestamptz;
begin
  update private.credentials
  set password_hash = p_password_hash, failed_attempts = 0, locked_until = null
  where username = lower(btrim(p_username)) and not coalesce(locked_until > now(), false)
  returning user_id into account;
  if account is null then
    select c.locked_until into lock from private.credentials c
    where c.username = lower(btrim(p_username)) and c.locked_until > now();
    if lock is not null then
      raise exception 'This account is locked after five failed attempts; its password cannot change until the lock ends.'
        using errcode = 'P0001', detail = 'locked', hint = to_char(lock at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"');
    end if;
    raise exception 'No account with that username.' using errcode = 'PT404';
  end if;
  delete from private.sign_in_sessions where user_id = account;
end;
$$;

revoke all on function public.auth_set_password_hash(text, text) from public, anon, authenticated, portal_member;
grant execute on function public.auth_set_password_hash(text, text) to service_role;
