-- A termination plan waiting 2 days for a signature is recalled to the one who has not signed (#13),
-- once per version; and the admin's Outbox says when a row will be tried next.
--
-- A proposed version carries its author's signature (proposing and changing both sign for the
-- author), so the version has waited since that signature. After 2 days the other party gets one
-- notice naming the plan, its version and the other person; the notification's own trigger queues
-- its email (group "plans"), so muted plans and the morning summary apply as to every notice.
-- The dedup key is per plan and version: a new version is a new wait, and a signed version or a
-- plan no longer proposed is never recalled.
--
-- Reminders are written the way the portal's others are (refresh_termination_reminders: a plan
-- awaiting your signature, a final session within 7 days, a follow-up due): by a function that
-- writes each at most once. It is called from two places: the member's own Termination page (as
-- the other reminders are), and, because an email reminder matters most to someone who does not
-- open the portal, by the sender through public.write_due_reminders (service role) on each poll.

create function private.remind_plans_awaiting_signature(p_member uuid default null)
returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  added integer := 0;
  item record;
begin
  -- p_member: only this member's reminders (their page); null: everyone's (the sender's sweep).
  for item in
    select p.id, v.version, s.signer_id as signed_by, s.signed_at,
           case when s.signer_id = p.seeker_id then p.consultant_id else p.seeker_id end as waiting_on
    from public.termination_plans p
    join public.termination_plan_versions v on v.plan_id = p.id and v.version = p.current_version
    join public.termination_signatures s on s.plan_id = p.id and s.version = v.version
    where p.status = 'proposed'
      and s.signed_at <= now() - interval '2 days'
      and (select count(*) from public.termination_signatures t
           where t.plan_id = p.id and t.version = v.version) = 1
      and (p_member is null or p_member in (p.seeker_id, p.consultant_id))
  loop
    if p_member is not null and item.waiting_on <> p_member then
      continue;
    end if;
    insert into public.notifications (user_id, kind, message, page, dedup_key)
    values (item.waiting_on, 'plan_awaiting_2_days',
            (select o.display_name from public.profiles o where o.id = item.signed_by)
              || ' has waited 2 days for your signature on the termination plan for your work together (version '
              || item.version || ', signed by them ' || private.local_time_text(item.signed_at, item.waiting_on)
              || ').',
            'termination', 'awaiting_2_days:' || item.id || ':' || item.version)
    on conflict do nothing;
    added := added + 1;
  end loop;
  return added;
end;
$$;
revoke all on function private.remind_plans_awaiting_signature(uuid)
  from public, anon, authenticated, portal_member;

-- The member's page: the same reminders as before, and the 2-day one for the caller.
create or replace function public.refresh_termination_reminders()
returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  me uuid := auth.uid();
  added integer := 0;
  item record;
begin
  for item in
    select p.id, p.status, v.version, v.final_session_on, v.follow_up_on,
           exists (select 1 from public.termination_signatures s
                   where s.plan_id = p.id and s.version = v.version and s.signer_id = me) as i_signed
    from public.termination_plans p
    join public.termination_plan_versions v on v.plan_id = p.id and v.version = p.current_version
    where me in (p.seeker_id, p.consultant_id) and p.status in ('proposed', 'agreed')
  loop
    if item.status = 'proposed' and not item.i_signed then
      insert into public.notifications (user_id, kind, message, page, dedup_key)
      values (me, 'plan_awaiting', 'A termination plan awaits your signature.', 'termination',
              'awaiting:' || item.id || ':' || item.version) on conflict do nothing;
      added := added + 1;
    end if;
    if item.status = 'agreed' and item.final_session_on between current_date and current_date + 7 then
      insert into public.notifications (user_id, kind, message, page, dedup_key)
      values (me, 'final_session_soon', 'The final session is on ' || to_char(item.final_session_on, 'Dy DD Mon')
              || '.', 'termination', 'final:' || item.id || ':' || item.final_session_on) on conflict do nothing;
      added := added + 1;
    end if;
    if item.follow_up_on is not null and item.follow_up_on <= current_date then
      insert into public.notifications (user_id, kind, message, page, dedup_key)
      values (me, 'follow_up_due', 'A follow-up check-in is due.', 'termination',
              'follow_up:' || item.id || ':' || item.follow_up_on) on conflict do nothing;
      added := added + 1;
    end if;
  end loop;
  if me is not null then
    added := added + private.remind_plans_awaiting_signature(me);
  end if;
  return added;
end;
$$;

-- The sender's sweep: every reminder now due, for everyone (each written once).
create function public.write_due_reminders()
returns integer
language sql
volatile
security definer
set search_path = ''
as $$
  select private.remind_plans_awaiting_signature(null)
$$;
revoke all on function public.write_due_reminders() from public, anon, authenticated, portal_member;
grant execute on function public.write_due_reminders() to service_role;

-- The admin's Outbox also says when a row waiting for a retry (or the morning summary) goes next.
drop function public.admin_outbox(integer);
create function public.admin_outbox(p_limit integer default 100)
returns table (id bigint, created_at timestamptz, recipient text, kind text, message text, status text,
               attempts integer, last_error text, delivered_to text, summary boolean, next_attempt_at timestamptz,
               settled_at timestamptz)
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  if not public.is_admin() then
    raise exception 'Only administrators can read the outbox.' using errcode = '42501';
  end if;
  return query
    select o.id, o.created_at, p.display_name, o.kind, o.message, o.status, o.attempts, o.last_error,
           o.delivered_to, o.summary, o.next_attempt_at, o.settled_at
    from private.outbox o
    join public.profiles p on p.id = o.recipient_id
    order by o.id desc
    limit least(greatest(coalesce(p_limit, 100), 1), 500);
end;
$$;
revoke all on function public.admin_outbox(integer) from public, anon, authenticated;
grant execute on function public.admin_outbox(integer) to portal_member;
