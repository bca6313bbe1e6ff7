-- Emails say what happened and to which session or plan, and a reopened verification link says the address
-- is confirmed (issue 26, items 6, 9 and 11).
--
-- 1. The sender's claim names the session of every session notice, not only of those carrying a calendar
--    invitation: an attendance notice or a reminder links to its session and its subject names the time
--    (the notice's own appointment_id, kept by notices_name_their_item). The outbox row's own appointment_id is
--    left as it was: it counts the invitations each calendar has seen (SEQUENCE). For a plan, other_name is
--    the plan's other party, so a plan email's subject names with whom.
-- 2. A notice reads as sentences: a member's words that end in a full stop, put before the portal's own
--    punctuation, no longer make "afternoon.." or "(… pending review.)." (a trigger on the notice, so the app
--    and the email read the same).
-- 3. A verification link opened again (mail scanners open links before people do) whose address has its
--    account, or is verified, answers 'confirmed' with the account's username instead of 'spent'.

-- 1 ----------------------------------------------------------------------------------------------------------
create or replace function public.outbox_claim(p_limit integer default 20, p_lease_seconds integer default 120)
returns table (id bigint, kind text, message text, page text, attempts integer, recipient_name text,
               recipient_email text, email_verified boolean, recipient_timezone text, appointment_id uuid,
               series_id uuid, ics_method text, ics_sequence integer, starts_at timestamptz, ends_at timestamptz,
               consultant_timezone text, other_name text, summary boolean, recipient_id uuid, plan_id uuid,
               consultant_name text, session_location text)
language sql
volatile
security definer
set search_path = ''
as $$
  with due as (
    select o.id from private.outbox o
    where (o.status = 'queued' and o.next_attempt_at <= now())
       or (o.status = 'sending' and o.lease_until < now())
    order by o.next_attempt_at, o.recipient_id, o.id
    limit least(greatest(coalesce(p_limit, 20), 1), 500)
    for update skip locked
  ),
  claimed as (
    update private.outbox o
    set status = 'sending', attempts = o.attempts + 1,
        lease_until = now() + make_interval(secs => least(greatest(coalesce(p_lease_seconds, 120), 10), 3600))
    from due where o.id = due.id
    returning o.*
  )
  select c.id, c.kind, c.message, c.page, c.attempts, p.display_name, cr.email, cr.email_verified_at is not null,
         p.timezone, a.id, a.series_id, c.ics_method, c.ics_sequence, a.starts_at, a.ends_at,
         cp.timezone,
         coalesce(
           (select o.display_name from public.profiles o
            where o.id = case when a.consultant_id = c.recipient_id then a.client_id else a.consultant_id end),
           (select o.display_name from public.profiles o
            where o.id = case when pl.consultant_id = c.recipient_id then pl.seeker_id else pl.consultant_id end)),
         c.summary, c.recipient_id, c.plan_id, cp.display_name, sl.location
  from claimed c
  join public.profiles p on p.id = c.recipient_id
  join private.credentials cr on cr.user_id = c.recipient_id
  left join public.notifications n on n.id = c.notification_id
  left join public.appointments a on a.id = coalesce(c.appointment_id, n.appointment_id)
  left join public.profiles cp on cp.id = a.consultant_id
  left join public.session_locations sl on sl.consultant_id = a.consultant_id
  left join public.termination_plans pl on pl.id = c.plan_id
  order by c.recipient_id, c.id
$$;
revoke all on function public.outbox_claim(integer, integer) from public, anon, authenticated, portal_member;
grant execute on function public.outbox_claim(integer, integer) to service_role;

-- 2 ----------------------------------------------------------------------------------------------------------
-- "afternoon.." -> "afternoon." (an ellipsis stays); "review.)." -> "review)."; "really?." -> "really?".
create function private.as_sentences(p_text text)
returns text
language sql
immutable
set search_path = ''
as $$
  select regexp_replace(
           regexp_replace(
             regexp_replace(p_text, '([^.])\.\.(?!\.)', '\1.', 'g'),
             '\.\)(?=[.,;:])', ')', 'g'),
           '([!?])\.(?!\.)', '\1', 'g')
$$;
revoke all on function private.as_sentences(text) from public, anon, authenticated, service_role;

-- Not a definer: it changes only the row being written (members hold no insert grant on notices). Named to
-- run after the other BEFORE triggers, which compose the sentence.
create function private.notices_read_as_sentences()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.message := private.as_sentences(new.message);
  return new;
end;
$$;
revoke all on function private.notices_read_as_sentences() from public, anon, authenticated;
create trigger notifications_written_as_sentences before insert on public.notifications
  for each row execute function private.notices_read_as_sentences();

-- 3 ----------------------------------------------------------------------------------------------------------
-- As in 20261129002100, but a spent link whose address is now confirmed says so ('confirmed', with the
-- account's username): the address belongs to an account (a registration), or is the verified address of
-- the link's account (a member's own verification).
create or replace function public.auth_redeem_verification(p_token_hash text)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  link private.account_links;
  new_id uuid;
  confirmed_as text;
begin
  select * into link from private.account_links l
  where l.token_hash = p_token_hash and l.kind in ('registration', 'verify_email') for update;
  if link.id is null then
    return jsonb_build_object('outcome', 'unknown', 'username', null);
  end if;
  if link.used_at is not null then
    select c.username into confirmed_as from private.credentials c
    where lower(c.email) = lower(link.email)
      and (link.kind = 'registration' or (c.user_id = link.user_id and c.email_verified_at is not null));
    if confirmed_as is not null then
      return jsonb_build_object('outcome', 'confirmed', 'username', confirmed_as);
    end if;
    return jsonb_build_object('outcome', 'spent', 'username', null);
  end if;
  if link.expires_at <= now() then
    return jsonb_build_object('outcome', 'expired', 'username', null);
  end if;
  if link.kind = 'verify_email' then
    update private.credentials c set email_verified_at = coalesce(c.email_verified_at, now())
    where c.user_id = link.user_id and lower(c.email) = lower(link.email);
    if not found then
      return jsonb_build_object('outcome', 'unknown', 'username', null);
    end if;
    update private.account_links l set used_at = now()
    where l.user_id = link.user_id and l.kind = 'verify_email' and l.used_at is null;
    return jsonb_build_object('outcome', 'verified',
                              'username', (select c.username from private.credentials c where c.user_id = link.user_id));
  end if;
  if exists (select 1 from private.credentials c where lower(c.email) = lower(link.email)) then
    update private.account_links l set used_at = now() where l.id = link.id;
    return jsonb_build_object('outcome', 'email_taken', 'username', null);
  end if;
  if exists (select 1 from private.credentials c where c.username = link.username)
     or exists (select 1 from private.retired_usernames r where r.username = link.username) then
    return jsonb_build_object('outcome', 'username_taken', 'username', link.username);
  end if;
  insert into public.profiles (display_name) values (link.display_name) returning id into new_id;
  insert into private.credentials (user_id, username, email, password_hash, email_verified_at)
  values (new_id, link.username, link.email, link.password_hash, now());
  -- This link is spent; every other registration for the address is too (the address has its account).
  update private.account_links l set used_at = now()
  where l.kind = 'registration' and lower(l.email) = lower(link.email) and l.used_at is null;
  return jsonb_build_object('outcome', 'created', 'username', link.username);
end;
$$;
revoke all on function public.auth_redeem_verification(text) from public, anon, authenticated, portal_member;
grant execute on function public.auth_redeem_verification(text) to service_role;
