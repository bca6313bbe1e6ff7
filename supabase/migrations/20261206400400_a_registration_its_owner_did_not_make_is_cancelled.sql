-- A registration its address's owner did not make is cancelled, not completed (issue 23, item 8).
--
-- Anyone could register a not-yet-used address with their own username and password; when the owner
-- opened the link (it came to their inbox), the account was created with the registrant's credentials.
-- Now the link's page first shows the username the registration asked for and offers two answers:
-- create the account (auth_redeem_verification, as before), or "This was not me", which cancels the
-- registration: its link is spent and its details (username, name, password hash) are forgotten.
-- outcome: cancelled, expired, spent or unknown (the same sentences as for opening the link).

create function public.auth_cancel_registration(p_token_hash text)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  link private.account_links;
begin
  select * into link from private.account_links l
  where l.token_hash = p_token_hash and l.kind = 'registration' for update;
  if link.id is null then
    return jsonb_build_object('outcome', 'unknown', 'username', null);
  end if;
  if link.used_at is not null then
    return jsonb_build_object('outcome', 'spent', 'username', null);
  end if;
  if link.expires_at <= now() then
    return jsonb_build_object('outcome', 'expired', 'username', null);
  end if;
  -- Spent, and nothing of the registrant's kept beyond what the row must hold (a registration row keeps
  -- its username and name by its check; the password hash is replaced by one that matches no password).
  update private.account_links l
  set used_at = now(),
      password_hash = '$2b$12$' || repeat('.', 53)
  where l.id = link.id;
  return jsonb_build_object('outcome', 'cancelled', 'username', link.username);
end;
$$;
revoke all on function public.auth_cancel_registration(text) from public, anon, authenticated, portal_member;
grant execute on function public.auth_cancel_registration(text) to service_role;
