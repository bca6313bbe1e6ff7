-- Members choose which emails they get, and may take a quiet daily summary
-- instead of single emails (#13). The notice in the app is never affected.
--
-- Emails come in five groups (sessions, requests, termination plans, attendance,
-- account). A muted group queues nothing. With the summary on, a notice is
-- queued for the next 07:00 in the member's own zone and the sender folds every
-- row of that member due then into one email (calendar invitations ride along).

create table public.email_preferences (
  member_id    uuid primary key references public.profiles (id) on delete cascade,
  muted        text[] not null default '{}'
               constraint email_preferences_groups
               check (muted <@ array['sessions', 'requests', 'plans', 'attendance', 'account']),
  summary      boolean not null default false,
  updated_at   timestamptz not null default now()
);
alter table public.email_preferences enable row level security;
revoke all on public.email_preferences from public, anon, authenticated;
grant select on public.email_preferences to portal_member;
grant all on public.email_preferences to service_role;
create policy "members read their email choices" on public.email_preferences for select to portal_member
  using (member_id = (select auth.uid()));

-- Which group a notice belongs to.
create function private.email_group(p_kind text, p_page text)
returns text
language sql
immutable
set search_path = ''
as $$
  select case when p_kind like 'attendance\_%' then 'attendance'
              when p_kind = 'account_closed' then 'account'
              when p_page = 'appointments' then 'sessions'
              when p_page = 'requests' then 'requests'
              when p_page = 'termination' then 'plans'
              else 'account' end
$$;
revoke all on function private.email_group(text, text) from public, anon, authenticated;

create function public.get_my_email_preferences()
returns jsonb
language sql
stable
set search_path = ''
as $$
  select jsonb_build_object('muted', coalesce((select to_jsonb(e.muted) from public.email_preferences e
                                               where e.member_id = auth.uid()), '[]'),
                            'summary', coalesce((select e.summary from public.email_preferences e
                                                 where e.member_id = auth.uid()), false))
$$;
revoke all on function public.get_my_email_preferences() from public, anon, authenticated;
grant execute on function public.get_my_email_preferences() to portal_member;

create function public.save_my_email_preferences(p_muted text[], p_summary boolean)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
  if auth.uid() is null then
    raise exception 'Sign in to choose your emails.' using errcode = '42501';
  end if;
  if cardinality(p_muted) > 5 or not coalesce(p_muted, '{}') <@ array['sessions', 'requests', 'plans', 'attendance',
                                                                     'account'] then
    raise exception 'Choose among sessions, requests, plans, attendance and account.' using detail = 'muted';
  end if;
  insert into public.email_preferences as e (member_id, muted, summary, updated_at)
  values (auth.uid(), array(select distinct m from unnest(coalesce(p_muted, '{}')) m order by m),
          coalesce(p_summary, false), now())
  on conflict (member_id) do update set muted = excluded.muted, summary = excluded.summary, updated_at = now();
  return public.get_my_email_preferences();
end;
$$;
revoke all on function public.save_my_email_preferences(text[], boolean) from public, anon, authenticated;
grant execute on function public.save_my_email_preferences(text[], boolean) to portal_member;

alter table private.outbox add column summary boolean not null default false;

-- The next 07:00 on the member's own clock.
create function private.next_summary_time(p_member uuid)
returns timestamptz
language sql
stable
set search_path = ''
as $$
  select case when local_now::time < time '07:00' then (local_now::date + time '07:00') at time zone z.tz
              else (local_now::date + 1 + time '07:00') at time zone z.tz end
  from (select coalesce((select p.timezone from public.profiles p where p.id = p_member), 'UTC') as tz) z,
       lateral (select now() at time zone z.tz as local_now) l
$$;
revoke all on function private.next_summary_time(uuid) from public, anon, authenticated;

-- The outbox honours the choices: a muted group is not queued; a summary waits for the morning.
create function private.outbox_honours_choices()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  choice public.email_preferences;
begin
  select * into choice from public.email_preferences e where e.member_id = new.recipient_id;
  if choice.member_id is null then
    return new;
  end if;
  if private.email_group(new.kind, new.page) = any (choice.muted) then
    return null;
  end if;
  if choice.summary then
    new.summary := true;
    new.next_attempt_at := private.next_summary_time(new.recipient_id);
  end if;
  return new;
end;
$$;
revoke all on function private.outbox_honours_choices() from public, anon, authenticated;
create trigger outbox_honours_choices before insert on private.outbox
  for each row execute function private.outbox_honours_choices();

-- The sender's claim now says which rows belong in a summary.
drop function public.outbox_claim(integer, integer);
create function public.outbox_claim(p_limit integer default 20, p_lease_seconds integer default 120)
returns table (id bigint, kind text, message text, page text, attempts integer, recipient_name text,
               recipient_email text, email_verified boolean, recipient_timezone text, appointment_id uuid,
               series_id uuid, ics_method text, ics_sequence integer, starts_at timestamptz, ends_at timestamptz,
               consultant_timezone text, other_name text, summary boolean, recipient_id uuid)
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
         c.summary, c.recipient_id
  from claimed c
  join public.profiles p on p.id = c.recipient_id
  join private.credentials cr on cr.user_id = c.recipient_id
  left join public.appointments a on a.id = c.appointment_id
  left join public.profiles cp on cp.id = a.consultant_id
  order by c.recipient_id, c.id
$$;
revoke all on function public.outbox_claim(integer, integer) from public, anon, authenticated, portal_member;
grant execute on function public.outbox_claim(integer, integer) to service_role;
