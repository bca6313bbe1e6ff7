-- A local portal started without the demo world has no accounts: the sign-in
-- page says so and how to begin (#16, item 12: the demo world only when asked for).
-- Server-side only: it tells whether any account exists, nothing about which.
create function public.portal_has_accounts()
returns boolean
language sql
stable
set search_path = ''
as $$
  select exists (select 1 from private.credentials)
$$;
revoke all on function public.portal_has_accounts() from public, anon, authenticated, portal_member;
grant execute on function public.portal_has_accounts() to service_role;
