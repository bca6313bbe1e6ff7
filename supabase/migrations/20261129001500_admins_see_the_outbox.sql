-- The admin's Outbox (#13): what was queued, for whom, and where it stands
-- (queued, sent, held with the reason, failed). In local mode this is how a new
-- user finds the messages the portal wrote to its mailbox. Admin only; it shows
-- the sentence each member was told, never more than the notice itself.
create function public.admin_outbox(p_limit integer default 100)
returns table (id bigint, created_at timestamptz, recipient text, kind text, message text, status text,
               attempts integer, last_error text, delivered_to text, summary boolean)
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
           o.delivered_to, o.summary
    from private.outbox o
    join public.profiles p on p.id = o.recipient_id
    order by o.id desc
    limit least(greatest(coalesce(p_limit, 100), 1), 500);
end;
$$;
revoke all on function public.admin_outbox(integer) from public, anon, authenticated;
grant execute on function public.admin_outbox(integer) to portal_member;
