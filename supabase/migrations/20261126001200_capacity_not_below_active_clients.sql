-- Capacity can't be set below the clients a consultant already has: "1 of 0 clients"
-- beside "accepting new clients" read as a contradiction (the page checks too, against
-- the count it loaded; this holds for any caller and for an acceptance that lands
-- while the form is open). A capacity left as it was is not re-checked, so a row that
-- is already below its count can still be saved for its other fields.
-- The body is 20261126000300's with that check added.

create or replace function public.save_my_practice(p_competencies jsonb, p_accepting boolean, p_capacity integer,
                                        p_expected_version integer)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
  me uuid := auth.uid();
  row_doc jsonb;
  kept text[] := '{}';
  held integer;
  current_capacity integer;
begin
  if me is null then
    raise exception 'Sign in to change your practice.' using errcode = '42501';
  end if;
  if jsonb_typeof(coalesce(p_competencies, '[]')) <> 'array' then
    raise exception 'Competencies must be a JSON array.' using errcode = '22023';
  end if;
  select s.capacity into current_capacity from public.availability_settings s where s.consultant_id = me;
  update public.availability_settings s
  set accepting_new_clients = coalesce(p_accepting, true), capacity = p_capacity,
      version = s.version + 1, updated_at = now()
  where s.consultant_id = me and s.version = p_expected_version;
  if not found then
    raise exception 'Your practice settings were changed elsewhere since this form was opened.'
      using detail = 'version',
            hint = 'Nothing was saved. Reload the latest version, then apply your changes again.';
  end if;
  -- Counted after the update has locked the settings row: an acceptance (which locks it
  -- too, and whose engagement trigger updates it) has then either committed or waits.
  held := (select count(*) from public.engagements e where e.consultant_id = me and e.status = 'active');
  if p_capacity is distinct from current_capacity and p_capacity < held then
    raise exception 'You have % active %; capacity can''t be lower.', held,
                    case when held = 1 then 'client' else 'clients' end
      using detail = 'capacity', hint = 'To stop taking new clients, turn off ''Accepting new clients''.';
  end if;

  for row_doc in select * from jsonb_array_elements(coalesce(p_competencies, '[]')) loop
    if row_doc ->> 'modality' = any (kept) then
      raise exception 'Modality % is listed twice.', row_doc ->> 'modality'
        using detail = 'competencies', hint = 'Keep one row per modality.';
    end if;
    kept := kept || (row_doc ->> 'modality');
    insert into public.competencies as c (consultant_id, modality, level, evidence_body, evidence_credential,
                                          evidence_year, training_hours, expires_on)
    values (me, row_doc ->> 'modality', (row_doc ->> 'level')::smallint,
            nullif(btrim(row_doc ->> 'evidence_body'), ''), nullif(btrim(row_doc ->> 'evidence_credential'), ''),
            (row_doc ->> 'evidence_year')::smallint, (row_doc ->> 'training_hours')::integer,
            (row_doc ->> 'expires_on')::date)
    on conflict (consultant_id, modality) do update
      set level = excluded.level, evidence_body = excluded.evidence_body,
          evidence_credential = excluded.evidence_credential, evidence_year = excluded.evidence_year,
          training_hours = excluded.training_hours, expires_on = excluded.expires_on
      where (c.level, c.evidence_body, c.evidence_credential, c.evidence_year, c.training_hours, c.expires_on)
            is distinct from (excluded.level, excluded.evidence_body, excluded.evidence_credential,
                              excluded.evidence_year, excluded.training_hours, excluded.expires_on);
  end loop;
  delete from public.competencies where consultant_id = me and not (modality = any (kept));
  return public.get_my_practice();
end;
$$;
