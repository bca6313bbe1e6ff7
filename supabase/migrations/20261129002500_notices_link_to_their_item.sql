-- Notices link to their item (#13: "links to that exact item"; #15: a plan has an address).
--
-- A notice named its page ("termination", "appointments") but not the plan or session it was about,
-- so "Open" and the email's link led to a list. Each notice now carries the plan or the session it
-- concerns: taken from what the same transaction changed (portal.changed_plan, set by the trigger on
-- termination_plans; portal.changed_appointment, set by the trigger on appointments), or for a
-- reminder from its dedup key ('<what>:<id>:...'), and kept only when the recipient is a party of it.
-- The outbox row carries the same plan, so the email links to `termination?plan=<id>`.

alter table public.notifications
  add column plan_id uuid references public.termination_plans (id) on delete set null,
  add column appointment_id uuid references public.appointments (id) on delete set null;

-- The id a dedup key names ('awaiting:<plan>:<version>', 'tomorrow:<appointment>:<time>', ...), or null.
create function private.dedup_key_item(p_key text)
returns uuid
language sql
immutable
set search_path = ''
as $$
  select case when split_part(p_key, ':', 2) ~ '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
              then split_part(p_key, ':', 2)::uuid end
$$;
revoke all on function private.dedup_key_item(text) from public, anon, authenticated, service_role;

-- Not a definer: notices are written only by the portal's own functions (members hold no insert grant).
create function private.notices_name_their_item()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.page = 'termination' and new.plan_id is null then
    new.plan_id := (select p.id from public.termination_plans p
                    where p.id = coalesce(private.dedup_key_item(new.dedup_key),
                                          nullif(current_setting('portal.changed_plan', true), '')::uuid)
                      and new.user_id in (p.seeker_id, p.consultant_id));
  elsif new.page = 'appointments' and new.appointment_id is null then
    new.appointment_id := (select a.id from public.appointments a
                           where a.id = coalesce(private.dedup_key_item(new.dedup_key),
                                                 nullif(current_setting('portal.changed_appointment', true), '')::uuid)
                             and new.user_id in (a.client_id, a.consultant_id));
  end if;
  return new;
end;
$$;
revoke all on function private.notices_name_their_item() from public, anon, authenticated;
create trigger notifications_name_their_item before insert on public.notifications
  for each row execute function private.notices_name_their_item();

alter table private.outbox add column plan_id uuid references public.termination_plans (id) on delete set null;

create function private.outbox_names_the_plan()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.plan_id := (select n.plan_id from public.notifications n where n.id = new.notification_id);
  return new;
end;
$$;
revoke all on function private.outbox_names_the_plan() from public, anon, authenticated;
create trigger outbox_names_the_plan before insert on private.outbox
  for each row execute function private.outbox_names_the_plan();

-- The sender's claim, as in …1400, now with the plan (a new column changes the result type: drop and create).
drop function public.outbox_claim(integer, integer);
create function public.outbox_claim(p_limit integer default 20, p_lease_seconds integer default 120)
returns table (id bigint, kind text, message text, page text, attempts integer, recipient_name text,
               recipient_email text, email_verified boolean, recipient_timezone text, appointment_id uuid,
               series_id uuid, ics_method text, ics_sequence integer, starts_at timestamptz, ends_at timestamptz,
               consultant_timezone text, other_name text, summary boolean, recipient_id uuid, plan_id uuid)
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
         p.timezone, c.appointment_id, a.series_id, c.ics_method, c.ics_sequence, a.starts_at, a.ends_at,
         cp.timezone,
         (select o.display_name from public.profiles o
          where o.id = case when a.consultant_id = c.recipient_id then a.client_id else a.consultant_id end),
         c.summary, c.recipient_id, c.plan_id
  from claimed c
  join public.profiles p on p.id = c.recipient_id
  join private.credentials cr on cr.user_id = c.recipient_id
  left join public.appointments a on a.id = c.appointment_id
  left join public.profiles cp on cp.id = a.consultant_id
  order by c.recipient_id, c.id
$$;
revoke all on function public.outbox_claim(integer, integer) from public, anon, authenticated, portal_member;
grant execute on function public.outbox_claim(integer, integer) to service_role;
