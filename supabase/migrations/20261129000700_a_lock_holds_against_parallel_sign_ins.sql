-- A lock holds against parallel sign-ins (issue 16, item 6).
--
-- Each sign-in read the account's lock state once, checked the password, then cleared the count on
-- success: 13 wrong passwords and 1 right one sent together let the right one in, and its clearing
-- wiped the lock the wrong ones had just set. Now a success counts only if the account is not
-- locked at that moment, decided in the same statement that clears the count; a locked account
-- stays locked, whatever password arrives.

create function public.auth_record_successful_login(p_username text)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
  lock timestamptz;
begin
  update private.credentials c
  set failed_attempts = case when c.locked_until > now() then c.failed_attempts else 0 end,
      locked_until = case when c.locked_until > now() then c.locked_until end
  where c.username = lower(btrim(p_username))
  returning c.locked_until into lock;
  return jsonb_build_object('signed_in', lock is null, 'locked_until', lock);
end;
$$;
revoke all on function public.auth_record_successful_login(text) from public, anon, authenticated;
grant execute on function public.auth_record_successful_login(text) to service_role;

-- The old entry point clears a count, never an active lock (an admin unlocks).
create or replace function public.auth_clear_failed_logins(p_username text)
returns void
language sql
volatile
set search_path = ''
as $$
  update private.credentials
  set failed_attempts = 0, locked_until = null
  where username = lower(btrim(p_username)) and (locked_until is null or locked_until <= now())
$$;
