-- Deleting a profile outright (an operator's erasure; members themselves leave a
-- tombstone) cascades to its weekly hours and engagements, whose triggers then
-- recreated availability settings for the profile being deleted and failed on
-- the foreign key: the delete was refused. The triggers now leave a consultant
-- who no longer exists alone. Bodies as in 20261126000300, with that one check.

create or replace function private.refresh_time_buckets()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  who uuid := coalesce(new.consultant_id, old.consultant_id);
begin
  if not exists (select 1 from public.profiles p where p.id = who) then
    return null;  -- the profile itself is being deleted
  end if;
  insert into public.availability_settings (consultant_id) values (who) on conflict do nothing;
  update public.availability_settings s set time_buckets = coalesce((
    select bit_or(
      case when h.weekday >= 6 then 8 else 0 end
      | case when h.weekday <= 5 and h.starts_at < time '12:00' then 1 else 0 end
      | case when h.weekday <= 5 and h.starts_at < time '17:00' and h.ends_at > time '12:00' then 2 else 0 end
      | case when h.weekday <= 5 and h.ends_at > time '17:00' then 4 else 0 end)
    from public.weekly_hours h where h.consultant_id = who), 0)
  where s.consultant_id = who;
  return null;
end;
$$;

create or replace function private.count_active_clients()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  who uuid := coalesce(new.consultant_id, old.consultant_id);
begin
  if not exists (select 1 from public.profiles p where p.id = who) then
    return null;  -- the profile itself is being deleted
  end if;
  insert into public.availability_settings (consultant_id) values (who) on conflict do nothing;
  update public.availability_settings s
  set active_clients = (select count(*) from public.engagements e
                        where e.consultant_id = s.consultant_id and e.status = 'active'),
      clients_served = (select count(*) from public.engagements e where e.consultant_id = s.consultant_id)
  where s.consultant_id = who;
  return null;
end;
$$;
