-- Termination plans both parties agree and sign: immutable versions,
-- signatures per version, guardrails against last-minute discharge, checklist
-- progress, reminders, and closing the engagement when the plan completes.

create table public.termination_plans (
  id               uuid primary key default gen_random_uuid(),
  engagement_id    uuid not null references public.engagements (id) on delete cascade,
  seeker_id        uuid not null references public.profiles (id) on delete cascade,
  consultant_id    uuid not null references public.profiles (id) on delete cascade,
  status           text not null default 'draft'
                   check (status in ('draft', 'proposed', 'agreed', 'completed', 'withdrawn')),
  current_version  integer not null default 1,
  created_by       uuid not null references public.profiles (id),
  created_at       timestamptz not null default now(),
  updated_at       timestamptz not null default now(),
  closed_at        timestamptz,
  withdraw_reason  text check (char_length(withdraw_reason) <= 500)
);
-- One open plan per engagement (withdrawn or completed ones stay for the record).
create unique index termination_plans_one_open on public.termination_plans (engagement_id)
  where status in ('draft', 'proposed', 'agreed');

create table public.termination_plan_versions (
  plan_id               uuid not null references public.termination_plans (id) on delete cascade,
  version               integer not null,
  author_id             uuid not null references public.profiles (id),
  created_at            timestamptz not null default now(),
  initiated_by          text not null check (initiated_by in ('consultant', 'client')),
  reason                text not null check (reason in ('goals_met', 'client_choice', 'consultant_capacity',
                                                         'relocation', 'conflict_emerged', 'specialist_referral',
                                                         'financial', 'safety', 'other')),
  reason_notes          text check (char_length(reason_notes) <= 2000),
  discussed_on          date not null,
  final_session_on      date not null,
  sessions_remaining    smallint not null check (sessions_remaining between 0 and 52),
  closing_sessions      smallint not null check (closing_sessions between 0 and 10),
  referrals             jsonb not null default '[]' check (jsonb_typeof(referrals) = 'array'),
  follow_up_on          date,
  aftercare_notes       text check (char_length(aftercare_notes) <= 4000),
  checklist             text[] not null default '{}',
  safety_justification  text check (char_length(safety_justification) <= 2000),
  primary key (plan_id, version),
  constraint plan_final_after_discussion check (final_session_on >= discussed_on),
  constraint plan_follow_up_after_final check (follow_up_on is null or follow_up_on >= final_session_on),
  constraint plan_closing_within_remaining check (closing_sessions <= sessions_remaining),
  -- No last-minute discharge: when the consultant ends it, at least 21 days and 2 sessions
  -- after the ending was first discussed, and at least one referral. Only "safety" is
  -- exempt, and it must be justified in writing.
  constraint plan_consultant_notice check (
    initiated_by <> 'consultant' or reason = 'safety'
    or (final_session_on >= discussed_on + 21 and sessions_remaining >= 2 and jsonb_array_length(referrals) >= 1)),
  constraint plan_safety_justified check (
    reason <> 'safety' or char_length(btrim(coalesce(safety_justification, ''))) >= 20),
  constraint plan_checklist_known check (checklist <@ array['pre_termination_discussion', 'referrals_given',
                                                             'closing_session_held', 'summary_shared',
                                                             'follow_up_arranged'])
);

create table public.termination_signatures (
  plan_id    uuid not null,
  version    integer not null,
  signer_id  uuid not null references public.profiles (id),
  signed_at  timestamptz not null default now(),
  primary key (plan_id, version, signer_id),
  foreign key (plan_id, version) references public.termination_plan_versions (plan_id, version) on delete cascade
);

-- Progress on the checklist, ticked by either party as the ending unfolds.
create table public.termination_checklist_progress (
  plan_id   uuid not null references public.termination_plans (id) on delete cascade,
  item      text not null check (item in ('pre_termination_discussion', 'referrals_given', 'closing_session_held',
                                         'summary_shared', 'follow_up_arranged')),
  done_by   uuid not null references public.profiles (id),
  done_at   timestamptz not null default now(),
  primary key (plan_id, item)
);

alter table public.termination_plans enable row level security;
alter table public.termination_plan_versions enable row level security;
alter table public.termination_signatures enable row level security;
alter table public.termination_checklist_progress enable row level security;
revoke all on public.termination_plans, public.termination_plan_versions, public.termination_signatures,
              public.termination_checklist_progress from public, anon, authenticated;
grant select on public.termination_plans, public.termination_plan_versions, public.termination_signatures,
                public.termination_checklist_progress to authenticated;
grant all on public.termination_plans, public.termination_plan_versions, public.termination_signatures,
             public.termination_checklist_progress to service_role;
create policy "parties read their plans" on public.termination_plans for select to authenticated
  using ((select auth.uid()) in (seeker_id, consultant_id));
create policy "parties read their plan versions" on public.termination_plan_versions for select to authenticated
  using (exists (select 1 from public.termination_plans p where p.id = plan_id));
create policy "parties read their plan signatures" on public.termination_signatures for select to authenticated
  using (exists (select 1 from public.termination_plans p where p.id = plan_id));
create policy "parties read their checklist" on public.termination_checklist_progress for select to authenticated
  using (exists (select 1 from public.termination_plans p where p.id = plan_id));

-- Versions and signatures are a record: never edited, never removed.
create trigger termination_versions_immutable before update or delete on public.termination_plan_versions
  for each statement execute function private.refuse_changes();
create trigger termination_signatures_immutable before update or delete on public.termination_signatures
  for each statement execute function private.refuse_changes();

alter table public.notifications add column dedup_key text;
create unique index notifications_dedup on public.notifications (user_id, dedup_key) where dedup_key is not null;

-- ---------------------------------------------------------------------------
-- Writing a version (drafting, proposing, counter-proposing, changing an agreed plan)
-- ---------------------------------------------------------------------------
create function private.add_plan_version(p_plan public.termination_plans, p_terms jsonb, p_author uuid)
returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  next_version integer := (select coalesce(max(version), 0) + 1 from public.termination_plan_versions
                           where plan_id = p_plan.id);
begin
  insert into public.termination_plan_versions (
    plan_id, version, author_id, initiated_by, reason, reason_notes, discussed_on, final_session_on,
    sessions_remaining, closing_sessions, referrals, follow_up_on, aftercare_notes, checklist, safety_justification)
  values (
    p_plan.id, next_version, p_author, p_terms ->> 'initiated_by', p_terms ->> 'reason',
    nullif(btrim(p_terms ->> 'reason_notes'), ''), (p_terms ->> 'discussed_on')::date,
    (p_terms ->> 'final_session_on')::date, (p_terms ->> 'sessions_remaining')::smallint,
    (p_terms ->> 'closing_sessions')::smallint, coalesce(p_terms -> 'referrals', '[]'),
    (p_terms ->> 'follow_up_on')::date, nullif(btrim(p_terms ->> 'aftercare_notes'), ''),
    coalesce(array(select jsonb_array_elements_text(p_terms -> 'checklist')), '{}'),
    nullif(btrim(p_terms ->> 'safety_justification'), ''));
  return next_version;
end;
$$;
revoke all on function private.add_plan_version(public.termination_plans, jsonb, uuid) from public, anon, authenticated;

create function public.start_termination_plan(p_engagement uuid, p_terms jsonb)
returns uuid
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  me uuid := auth.uid();
  eng public.engagements;
  plan public.termination_plans;
begin
  select * into eng from public.engagements where id = p_engagement;
  if eng.id is null or me not in (eng.seeker_id, eng.consultant_id) then
    raise exception 'No such engagement.' using errcode = 'P0002';
  end if;
  if eng.status <> 'active' then
    raise exception 'This engagement has already ended.' using detail = 'status';
  end if;
  insert into public.termination_plans (engagement_id, seeker_id, consultant_id, created_by)
  values (eng.id, eng.seeker_id, eng.consultant_id, me) returning * into plan;
  perform private.add_plan_version(plan, p_terms, me);
  return plan.id;
exception when unique_violation then
  raise exception 'There is already an open termination plan for this engagement.'
    using detail = 'plan', hint = 'Open it under Termination plans and propose changes there.';
end;
$$;

-- Save a change. p_expected_version is the version the editor started from:
-- if the plan moved on meanwhile, nothing is saved.
create function public.revise_termination_plan(p_plan uuid, p_terms jsonb, p_expected_version integer)
returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  me uuid := auth.uid();
  plan public.termination_plans;
  new_version integer;
begin
  select * into plan from public.termination_plans where id = p_plan for update;
  if plan.id is null or me not in (plan.seeker_id, plan.consultant_id) then
    raise exception 'No such plan.' using errcode = 'P0002';
  end if;
  if plan.status in ('completed', 'withdrawn') then
    raise exception 'This plan is closed (%) and can no longer change.', plan.status using detail = 'status';
  end if;
  if plan.current_version <> p_expected_version then
    raise exception 'The plan changed while you were editing.'
      using detail = 'version', hint = 'Your draft is kept beside the new version; compare them and save again.';
  end if;
  new_version := private.add_plan_version(plan, p_terms, me);
  -- After a proposal, any change is a counter-proposal by its author: it needs both signatures again.
  update public.termination_plans
  set current_version = new_version, updated_at = now(),
      status = case when status = 'draft' then 'draft' else 'proposed' end
  where id = plan.id;
  if plan.status <> 'draft' then
    insert into public.termination_signatures (plan_id, version, signer_id) values (plan.id, new_version, me);
    perform private.notify(case when me = plan.seeker_id then plan.consultant_id else plan.seeker_id end,
                           'plan_changed', 'A termination plan was changed and awaits your signature.', 'termination');
  end if;
  return new_version;
end;
$$;

-- Proposing signs the current version for its proposer.
create function public.propose_termination_plan(p_plan uuid, p_expected_version integer)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  me uuid := auth.uid();
  plan public.termination_plans;
begin
  select * into plan from public.termination_plans where id = p_plan for update;
  if plan.id is null or me not in (plan.seeker_id, plan.consultant_id) then
    raise exception 'No such plan.' using errcode = 'P0002';
  end if;
  if plan.status <> 'draft' then
    raise exception 'Only a draft can be proposed.' using detail = 'status';
  end if;
  if plan.current_version <> p_expected_version then
    raise exception 'The plan changed while you were editing.' using detail = 'version';
  end if;
  update public.termination_plans set status = 'proposed', updated_at = now() where id = plan.id;
  perform public.sign_termination_plan(plan.id, plan.current_version);
  perform private.notify(case when me = plan.seeker_id then plan.consultant_id else plan.seeker_id end,
                         'plan_proposed', 'A termination plan was proposed and awaits your signature.', 'termination');
end;
$$;

-- Each party signs for themselves only, and only the current version.
create function public.sign_termination_plan(p_plan uuid, p_version integer)
returns text
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  me uuid := auth.uid();
  plan public.termination_plans;
  terms public.termination_plan_versions;
  signers integer;
begin
  select * into plan from public.termination_plans where id = p_plan for update;
  if plan.id is null or me not in (plan.seeker_id, plan.consultant_id) then
    raise exception 'No such plan.' using errcode = 'P0002';
  end if;
  if plan.status not in ('proposed', 'agreed') then
    raise exception 'Only a proposed plan can be signed.' using detail = 'status';
  end if;
  if p_version <> plan.current_version then
    raise exception 'You are signing version %, but the plan is now at version %.', p_version, plan.current_version
      using detail = 'version', hint = 'Read the current version before you sign.';
  end if;
  select * into terms from public.termination_plan_versions where plan_id = plan.id and version = p_version;
  if terms.closing_sessions < 1 then
    raise exception 'A plan cannot be agreed without at least one closing session to process the ending.'
      using detail = 'closing_sessions';
  end if;
  insert into public.termination_signatures (plan_id, version, signer_id) values (plan.id, p_version, me)
  on conflict do nothing;
  select count(*) into signers from public.termination_signatures
  where plan_id = plan.id and version = p_version and signer_id in (plan.seeker_id, plan.consultant_id);
  if signers = 2 then
    update public.termination_plans set status = 'agreed', updated_at = now() where id = plan.id;
    perform private.notify(plan.seeker_id, 'plan_agreed', 'Your termination plan is agreed by both of you.',
                           'termination');
    perform private.notify(plan.consultant_id, 'plan_agreed', 'Your termination plan is agreed by both of you.',
                           'termination');
    if terms.reason = 'safety' then
      perform private.notify(plan.seeker_id, 'plan_safety', 'This plan ends treatment early for safety reasons.',
                             'termination');
      perform private.notify(plan.consultant_id, 'plan_safety', 'This plan ends treatment early for safety reasons.',
                             'termination');
    end if;
    return 'agreed';
  end if;
  return 'signed';
end;
$$;

create function public.complete_termination_plan(p_plan uuid)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  me uuid := auth.uid();
  plan public.termination_plans;
  terms public.termination_plan_versions;
begin
  select * into plan from public.termination_plans where id = p_plan for update;
  if plan.id is null or me not in (plan.seeker_id, plan.consultant_id) then
    raise exception 'No such plan.' using errcode = 'P0002';
  end if;
  if plan.status <> 'agreed' then
    raise exception 'Only an agreed plan can be completed.' using detail = 'status';
  end if;
  select * into terms from public.termination_plan_versions where plan_id = plan.id and version = plan.current_version;
  if terms.final_session_on > current_date then
    raise exception 'The final session is planned for %; complete the plan after it.', terms.final_session_on
      using detail = 'final_session_on';
  end if;
  update public.termination_plans set status = 'completed', closed_at = now(), updated_at = now()
  where id = plan.id;
  -- The engagement closes and frees the consultant's capacity (the counter trigger runs).
  update public.engagements set status = 'ended', ended_at = now() where id = plan.engagement_id;
  perform private.notify(case when me = plan.seeker_id then plan.consultant_id else plan.seeker_id end,
                         'plan_completed', 'A termination plan was completed; the engagement is closed.',
                         'termination');
end;
$$;

create function public.withdraw_termination_plan(p_plan uuid, p_reason text)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  me uuid := auth.uid();
  plan public.termination_plans;
begin
  select * into plan from public.termination_plans where id = p_plan for update;
  if plan.id is null or me not in (plan.seeker_id, plan.consultant_id) then
    raise exception 'No such plan.' using errcode = 'P0002';
  end if;
  if plan.status in ('completed', 'withdrawn') then
    raise exception 'This plan is already closed.' using detail = 'status';
  end if;
  if char_length(btrim(coalesce(p_reason, ''))) = 0 then
    raise exception 'Say why the plan is withdrawn.' using detail = 'reason';
  end if;
  update public.termination_plans set status = 'withdrawn', withdraw_reason = btrim(p_reason), closed_at = now(),
                                      updated_at = now() where id = plan.id;
  perform private.notify(case when me = plan.seeker_id then plan.consultant_id else plan.seeker_id end,
                         'plan_withdrawn', 'A termination plan was withdrawn: ' || btrim(p_reason), 'termination');
end;
$$;

create function public.tick_termination_checklist(p_plan uuid, p_item text, p_done boolean)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  me uuid := auth.uid();
  plan public.termination_plans;
begin
  select * into plan from public.termination_plans where id = p_plan;
  if plan.id is null or me not in (plan.seeker_id, plan.consultant_id) then
    raise exception 'No such plan.' using errcode = 'P0002';
  end if;
  if plan.status not in ('agreed', 'proposed') then
    raise exception 'Progress is recorded on a proposed or agreed plan.' using detail = 'status';
  end if;
  if p_done then
    insert into public.termination_checklist_progress (plan_id, item, done_by) values (plan.id, p_item, me)
    on conflict do nothing;
  else
    delete from public.termination_checklist_progress where plan_id = plan.id and item = p_item;
  end if;
end;
$$;

-- Everything the Termination plans page shows, for the caller's plans.
create function public.my_termination_plans()
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(jsonb_agg(jsonb_build_object(
    'id', p.id, 'engagement_id', p.engagement_id, 'status', p.status, 'current_version', p.current_version,
    'my_role', case when p.seeker_id = auth.uid() then 'client' else 'consultant' end,
    'other_id', case when p.seeker_id = auth.uid() then p.consultant_id else p.seeker_id end,
    'other_name', (select display_name from public.profiles
                   where id = case when p.seeker_id = auth.uid() then p.consultant_id else p.seeker_id end),
    'created_at', p.created_at, 'updated_at', p.updated_at, 'withdraw_reason', p.withdraw_reason,
    'versions', (select jsonb_agg(to_jsonb(v) || jsonb_build_object(
                   'author_is_me', v.author_id = auth.uid(),
                   'signatures', coalesce((select jsonb_agg(jsonb_build_object(
                                   'signer', case when s.signer_id = auth.uid() then 'me' else 'other' end,
                                   'signed_at', s.signed_at) order by s.signed_at)
                                 from public.termination_signatures s
                                 where s.plan_id = v.plan_id and s.version = v.version), '[]'))
                   order by v.version)
                 from public.termination_plan_versions v where v.plan_id = p.id),
    'progress', coalesce((select jsonb_agg(c.item) from public.termination_checklist_progress c
                          where c.plan_id = p.id), '[]'),
    'sessions', coalesce((select jsonb_agg(jsonb_build_object('starts_at', a.starts_at, 'status', a.status)
                                           order by a.starts_at)
                          from public.appointments a
                          where a.engagement_id = p.engagement_id and a.status in ('requested', 'confirmed',
                                                                                   'completed')
                            and a.starts_at >= p.created_at - interval '60 days'), '[]'))
    order by p.status in ('completed', 'withdrawn'), p.updated_at desc), '[]')
  from public.termination_plans p
  where auth.uid() in (p.seeker_id, p.consultant_id)
$$;

-- Reminders, written once each: a plan awaiting your signature, a final session
-- within 7 days, a follow-up due.
create function public.refresh_termination_reminders()
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
  return added;
end;
$$;

revoke all on function public.start_termination_plan(uuid, jsonb), public.revise_termination_plan(uuid, jsonb, integer),
  public.propose_termination_plan(uuid, integer), public.sign_termination_plan(uuid, integer),
  public.complete_termination_plan(uuid), public.withdraw_termination_plan(uuid, text),
  public.tick_termination_checklist(uuid, text, boolean), public.my_termination_plans(),
  public.refresh_termination_reminders() from public, anon;
grant execute on function public.start_termination_plan(uuid, jsonb), public.revise_termination_plan(uuid, jsonb, integer),
  public.propose_termination_plan(uuid, integer), public.sign_termination_plan(uuid, integer),
  public.complete_termination_plan(uuid), public.withdraw_termination_plan(uuid, text),
  public.tick_termination_checklist(uuid, text, boolean), public.my_termination_plans(),
  public.refresh_termination_reminders() to authenticated;

-- Referral candidates for an engagement's client: consultants by name, screened
-- against the client (blocking conflicts never offered), the current consultant excluded.
create function public.referral_candidates(p_engagement uuid, p_query text)
returns table (id uuid, display_name text)
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  eng public.engagements;
  ids uuid[];
begin
  select * into eng from public.engagements e where e.id = p_engagement;
  if eng.id is null or auth.uid() not in (eng.seeker_id, eng.consultant_id) then
    raise exception 'No such engagement.' using errcode = 'P0002';
  end if;
  select array_agg(c.id) into ids from (
    select p.id from public.profiles p
    where p.is_consultant and p.id not in (eng.seeker_id, eng.consultant_id)
      and char_length(btrim(coalesce(p_query, ''))) >= 2 and p.display_name ilike '%' || btrim(p_query) || '%'
    order by p.display_name limit 40) c;
  return query
    select p.id, p.display_name
    from public.screen_candidates(eng.seeker_id, coalesce(ids, '{}'), 'search') s
    join public.profiles p on p.id = s.consultant_id
    where s.level <> 'blocking'
    order by p.display_name, p.id
    limit 20;
end;
$$;
revoke all on function public.referral_candidates(uuid, text) from public, anon;
grant execute on function public.referral_candidates(uuid, text) to authenticated;
