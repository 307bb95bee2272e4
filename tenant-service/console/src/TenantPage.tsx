import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { API_KEY_SCOPES } from '../../../shared/src/api-key-scopes';
import { GENESYS_REGIONS } from '../../../shared/src/genesys-regions';
import { describeError, seg, type ApiKey, type AuditEvent, type CreatedApiKey, type Credentials, type Message, type Tenant, type Usage } from './api';
import { UsageChart } from './UsageChart';
import { ErrorText, Link, ShownOnce, TableHead, loadInto, useFocusReturn, useOneAction, useSession, when } from './ui';

/**
 * One tenant: its status (suspend with a reason, reactivate), credentials (masked, with their
 * health; store Meta's and Genesys's), API keys, usage against its plan, messages given up (with
 * a retry), and its audit trail. Each section reads its own admin API route; an action reloads
 * what it changed and the audit trail.
 */
export function TenantPage({ tenantId }: { tenantId: string }) {
  const { api } = useSession();
  const [tenant, setTenant] = useState<Tenant | null>(null);
  const [error, setError] = useState<string | null>(null);
  // Bumped by every action: the audit trail (and what else reads it) reloads.
  const [version, setVersion] = useState(0);
  const changed = useCallback(() => setVersion((v) => v + 1), []);
  const base = `/tenants/${seg(tenantId)}`;

  useEffect(() => loadInto(api.get<Tenant>(base), setTenant, (err) => setError(describeError(err))), [api, base, version]);

  if (!tenant) {
    return (
      <section>
        <h1 tabIndex={-1}>Tenant {tenantId}</h1>
        {error ? <ErrorText error={error} /> : <p>Loading…</p>}
        <p>
          <Link to="">Back to the tenants</Link>
        </p>
      </section>
    );
  }
  return (
    <section>
      <h1 tabIndex={-1}>
        {tenant.name} <span className="muted">({tenant.tenantId})</span>
      </h1>
      <p>
        Status <span className={`badge ${tenant.status}`}>{tenant.status}</span> · plan {tenant.plan}
        {tenant.subdomain ? ` · subdomain ${tenant.subdomain}` : ''}
        {tenant.status === 'suspended' && tenant.suspendedReason ? ` · suspended ${when(tenant.suspendedAt)}: ${tenant.suspendedReason}` : ''}
      </p>
      <StatusSection tenant={tenant} base={base} onChange={(t) => { setTenant(t); changed(); }} />
      <UsageSection base={base} version={version} />
      <CredentialsSection base={base} onChange={changed} />
      <ApiKeysSection base={base} onChange={changed} />
      <MessagesSection base={base} onChange={changed} />
      <AuditSection tenantId={tenantId} base={base} version={version} />
    </section>
  );
}

function StatusSection({ tenant, base, onChange }: { tenant: Tenant; base: string; onChange(t: Tenant): void }) {
  const { api, announce } = useSession();
  const [reason, setReason] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const focus = useFocusReturn<HTMLHeadingElement>(tenant.status);

  async function patch(body: object, done: string) {
    if (busy) return;
    setBusy(true);
    setError(null);
    try {
      const updated = await api.patch<Tenant>(base, body);
      focus.expect();
      onChange(updated);
      setReason('');
      announce(done);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section aria-labelledby="status-h">
      <h2 id="status-h" tabIndex={-1} ref={focus.ref}>
        Status
      </h2>
      {tenant.status === 'active' ? (
        <form
          className="inline"
          onSubmit={(e: FormEvent) => {
            e.preventDefault();
            void patch({ status: 'suspended', reason }, `Tenant ${tenant.tenantId} suspended`);
          }}
        >
          <label htmlFor="suspend-reason">Reason for suspending (the tenant's requests answer 423 with it)</label>
          <input id="suspend-reason" required value={reason} onChange={(e) => setReason(e.target.value)} />
          <button type="submit" className="danger" aria-disabled={busy}>
            Suspend
          </button>
        </form>
      ) : (
        <button type="button" aria-disabled={busy} onClick={() => void patch({ status: 'active' }, `Tenant ${tenant.tenantId} ${tenant.status === 'pending' ? 'activated' : 'reactivated'}`)}>
          {tenant.status === 'pending' ? 'Activate' : 'Reactivate'}
        </button>
      )}
      <ErrorText error={error} />
    </section>
  );
}

function UsageSection({ base, version }: { base: string; version: number }) {
  const { api } = useSession();
  const [usage, setUsage] = useState<Usage | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => loadInto(api.get<Usage>(`${base}/usage`), setUsage, (err) => setError(describeError(err))), [api, base, version]);
  return (
    <section aria-labelledby="usage-h">
      <h2 id="usage-h">Usage against quota</h2>
      <ErrorText error={error} />
      {usage && <UsageChart usage={usage} />}
    </section>
  );
}

const META_FIELDS = [
  { name: 'phoneNumberId', label: 'Phone number id', secret: false, required: true },
  { name: 'wabaId', label: 'WhatsApp Business Account id (optional)', secret: false, required: false },
  { name: 'appSecret', label: 'App secret', secret: true, required: true },
  { name: 'verifyToken', label: 'Verify token', secret: true, required: true },
  { name: 'accessToken', label: 'Access token', secret: true, required: true },
] as const;

const GENESYS_FIELDS = [
  { name: 'clientId', label: 'OAuth client id', secret: false, required: true },
  { name: 'clientSecret', label: 'OAuth client secret', secret: true, required: true },
  { name: 'integrationId', label: 'Open Messaging integration id', secret: false, required: true },
  { name: 'webhookSecret', label: 'Outbound webhook secret (16 characters or more)', secret: true, required: true },
] as const;

function CredentialsSection({ base, onChange }: { base: string; onChange(): void }) {
  const { api, announce } = useSession();
  const [list, setList] = useState<Credentials[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [version, setVersion] = useState(0);
  useEffect(() => loadInto(api.get<Credentials[]>(`${base}/credentials`), setList, (err) => setError(describeError(err))), [api, base, version]);
  const stored = () => {
    setVersion((v) => v + 1);
    onChange();
  };
  async function verify(type: 'meta' | 'genesys') {
    setError(null);
    const name = type === 'meta' ? 'Meta' : 'Genesys';
    announce(`Checking the ${name} credentials with ${name}…`);
    try {
      const v = await api.post<{ ok: boolean; problem?: string; message?: string }>(`${base}/credentials/${type}/verify`);
      announce(v.ok ? `${name} credentials checked: ${name} accepts them` : `${name} credentials checked: ${v.problem}${v.message ? ` (${v.message})` : ''}`);
      stored();
    } catch (err) {
      setError(describeError(err));
    }
  }
  return (
    <section aria-labelledby="creds-h">
      <h2 id="creds-h">Credentials</h2>
      <ErrorText error={error} />
      {list && list.length === 0 && <p>None stored yet.</p>}
      {list && list.length > 0 && (
        <table>
          <TableHead columns={['Type', 'Fields (secrets masked)', 'Health', 'Updated']} />
          <tbody>
            {list.map((c) => (
              <tr key={c.type} data-testid={`credentials-${c.type}`}>
                <td>{c.type === 'meta' ? 'Meta (WhatsApp)' : 'Genesys Cloud'}</td>
                <td>
                  <dl className="fields">
                    {Object.entries(c.credentials).map(([k, v]) => (
                      <div key={k}>
                        <dt>{k}</dt>
                        <dd>{v ?? '—'}</dd>
                      </div>
                    ))}
                  </dl>
                </td>
                <td>
                  <span className={`badge ${c.health.status}`}>{c.health.status}</span>
                  {c.health.status === 'invalid' && (
                    <p className="error-inline">
                      {c.health.invalidReason ?? 'The provider refused them'} ({when(c.health.invalidAt)}): store new ones.
                    </p>
                  )}
                  {c.health.verifiedAt && <p className="muted">verified {when(c.health.verifiedAt)}</p>}
                  <button type="button" className="secondary" onClick={() => void verify(c.type)}>
                    Check with {c.type === 'meta' ? 'Meta' : 'Genesys'}
                  </button>
                </td>
                <td>{when(c.updatedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div className="columns">
        <CredentialsForm base={base} type="meta" title="Store Meta credentials" fields={META_FIELDS} onStored={stored} />
        <CredentialsForm base={base} type="genesys" title="Store Genesys credentials" fields={GENESYS_FIELDS} region onStored={stored} />
      </div>
    </section>
  );
}

function CredentialsForm(props: {
  base: string;
  type: 'meta' | 'genesys';
  title: string;
  fields: ReadonlyArray<{ name: string; label: string; secret: boolean; required: boolean }>;
  region?: boolean;
  onStored(): void;
}) {
  const { api, announce } = useSession();
  const [values, setValues] = useState<Record<string, string>>({ region: GENESYS_REGIONS[0] });
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const id = (name: string) => `${props.type}-${name}`;

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(null);
    const credentials: Record<string, string> = {};
    for (const f of props.fields) if (values[f.name]?.trim()) credentials[f.name] = values[f.name].trim();
    if (props.region) credentials.region = values.region;
    try {
      await api.post(`${props.base}/credentials`, { type: props.type, credentials });
      setValues({ region: GENESYS_REGIONS[0] });
      announce(`${props.type === 'meta' ? 'Meta' : 'Genesys'} credentials stored`);
      props.onStored();
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="stack panel" onSubmit={submit} aria-labelledby={id('h')}>
      <h3 id={id('h')}>{props.title}</h3>
      {props.fields.map((f) => (
        <div key={f.name} className="stack">
          <label htmlFor={id(f.name)}>{f.label}</label>
          <input
            id={id(f.name)}
            type={f.secret ? 'password' : 'text'}
            autoComplete="off"
            required={f.required}
            value={values[f.name] ?? ''}
            onChange={(e) => setValues({ ...values, [f.name]: e.target.value })}
          />
        </div>
      ))}
      {props.region && (
        <>
          <label htmlFor={id('region')}>Region</label>
          <select id={id('region')} value={values.region} onChange={(e) => setValues({ ...values, region: e.target.value })}>
            {GENESYS_REGIONS.map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
        </>
      )}
      <button type="submit" aria-disabled={busy}>
        {props.title}
      </button>
      <ErrorText error={error} />
    </form>
  );
}

const READ_SCOPES = API_KEY_SCOPES.filter((s) => s.endsWith(':read'));

function ApiKeysSection({ base, onChange }: { base: string; onChange(): void }) {
  const { api, announce } = useSession();
  const [keys, setKeys] = useState<ApiKey[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<string[]>(READ_SCOPES);
  const [created, setCreated] = useState<CreatedApiKey | null>(null);
  const [version, setVersion] = useState(0);
  const focus = useFocusReturn<HTMLHeadingElement>(keys);
  useEffect(() => loadInto(api.get<ApiKey[]>(`${base}/api-keys`), setKeys, (err) => setError(describeError(err))), [api, base, version]);

  // One action at a time: a double click on Create key would make a second key, active and never shown.
  const { run: act, pending } = useOneAction(setError, () => {
    focus.expect();
    setVersion((v) => v + 1);
    onChange();
  });


  return (
    <section aria-labelledby="keys-h">
      <h2 id="keys-h" tabIndex={-1} ref={focus.ref}>
        API keys
      </h2>
      {keys && (
        <table>
          <TableHead columns={['Prefix', 'Name', 'Scopes', 'State', 'Last used']} actions />
          <tbody>
            {keys.map((k) => (
              <tr key={k.id} data-testid={`key-${k.prefix}`}>
                <td>
                  <code>{k.prefix}…</code>
                </td>
                <td className="text">{k.name}</td>
                <td>{k.scopes.join(', ')}</td>
                <td>{k.isActive ? (k.expiresAt && Date.parse(k.expiresAt) < Date.now() ? 'expired' : 'active') : 'revoked'}</td>
                <td>{when(k.lastUsedAt)}</td>
                <td>
                  {k.isActive && (
                    <button
                      type="button"
                      className="danger"
                      aria-label={`Revoke key ${k.prefix} (${k.name})`}
                      onClick={() =>
                        void act(async () => {
                          await api.delete(`${base}/api-keys/${seg(k.id)}`);
                          announce(`Key ${k.prefix} revoked`);
                        })
                      }
                    >
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {created && <ShownOnce label={`API key ${created.name}`} value={created.apiKey} />}
      <form
        className="stack panel"
        onSubmit={(e) => {
          e.preventDefault();
          void act(async () => {
            const key = await api.post<CreatedApiKey>(`${base}/api-keys`, { name: name.trim(), scopes });
            setCreated(key);
            setName('');
            announce(`Key ${key.prefix} created; it is shown once`);
          });
        }}
      >
        <h3>Create an API key</h3>
        <label htmlFor="key-name">Key name</label>
        <input id="key-name" required autoComplete="off" value={name} onChange={(e) => setName(e.target.value)} />
        <fieldset>
          <legend>Scopes</legend>
          {API_KEY_SCOPES.map((s) => (
            <label key={s} className="check">
              <input type="checkbox" checked={scopes.includes(s)} onChange={(e) => setScopes(e.target.checked ? [...scopes, s] : scopes.filter((x) => x !== s))} /> {s}
            </label>
          ))}
        </fieldset>
        <button type="submit" aria-disabled={pending}>
          Create key
        </button>
      </form>
      <ErrorText error={error} />
    </section>
  );
}

const GIVEN_UP = ['failed', 'dead'];

function MessagesSection({ base, onChange }: { base: string; onChange(): void }) {
  const { api, announce } = useSession();
  const [filter, setFilter] = useState('given-up');
  const [messages, setMessages] = useState<Message[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [version, setVersion] = useState(0);
  const focus = useFocusReturn<HTMLHeadingElement>(messages);

  useEffect(() => {
    const list = (status?: string) => api.get<{ messages: Message[] }>(`${base}/messages?limit=50${status ? `&status=${status}` : ''}`).then((p) => p.messages);
    const load =
      filter === 'given-up'
        ? Promise.all(GIVEN_UP.map((s) => list(s))).then((pages) => pages.flat().sort((a, b) => Number(BigInt(b.id) - BigInt(a.id))))
        : list(filter === 'all' ? undefined : filter);
    return loadInto(load, setMessages, (err) => setError(describeError(err)));
  }, [api, base, filter, version]);

  const { run } = useOneAction(setError, () => {
    focus.expect();
    setVersion((v) => v + 1);
    onChange();
  });
  const retry = (m: Message) =>
    run(async () => {
      const res = await api.post<{ requeued: boolean; job: { id: string; lane: string } }>(`${base}/messages/${seg(m.id)}/retry`);
      announce(res.requeued ? `Message ${m.id} queued again (job ${res.job.id}, lane ${res.job.lane})` : `Message ${m.id} was already queued again (job ${res.job.id})`);
    });

  return (
    <section aria-labelledby="messages-h">
      <h2 id="messages-h" tabIndex={-1} ref={focus.ref}>
        Recent messages
      </h2>
      <div className="filters">
        <div>
          <label htmlFor="messages-filter">Show</label>
          <select id="messages-filter" value={filter} onChange={(e) => setFilter(e.target.value)}>
            <option value="given-up">Failed and dead</option>
            <option value="failed">Failed</option>
            <option value="dead">Dead</option>
            <option value="all">All recent</option>
          </select>
        </div>
      </div>
      <ErrorText error={error} />
      {messages && messages.length === 0 && <p>No messages here.</p>}
      {messages && messages.length > 0 && (
        <table>
          <TableHead columns={['Id', 'Direction', 'Customer', 'Status', 'Why', 'Updated']} actions />
          <tbody>
            {messages.map((m) => (
              <tr key={m.id} data-testid={`message-${m.id}`}>
                <td>{m.id}</td>
                <td>{m.direction}</td>
                <td className="text">{m.waId ?? '—'}</td>
                <td>
                  <span className={`badge ${m.status}`}>{m.status}</span>
                </td>
                <td className="text">{m.errorCode ? `${m.errorCode}: ${m.errorMessage ?? ''}` : '—'}</td>
                <td>{when(m.updatedAt)}</td>
                <td>
                  {GIVEN_UP.includes(m.status) && (
                    <button type="button" aria-label={`Retry message ${m.id}`} onClick={() => void retry(m)}>
                      Retry
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function AuditSection({ tenantId, base, version }: { tenantId: string; base: string; version: number }) {
  const { api, announce } = useSession();
  const [events, setEvents] = useState<AuditEvent[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(
    () => loadInto(api.get<{ events: AuditEvent[] }>(`/audit?tenant=${seg(tenantId)}&limit=20`), (p) => setEvents(p.events), (err) => setError(describeError(err))),
    [api, tenantId, version],
  );
  async function verify() {
    setError(null);
    try {
      const v = await api.get<{ ok: boolean; events: number; brokenAt?: string; reason?: string }>(`${base}/audit/verify`);
      announce(v.ok ? `Audit chain intact: ${v.events} events` : `Audit chain BROKEN at event ${v.brokenAt}: ${v.reason}`);
    } catch (err) {
      setError(describeError(err));
    }
  }
  return (
    <section aria-labelledby="audit-h">
      <h2 id="audit-h">Audit trail</h2>
      <p>
        The tenant's last 20 events. <Link to="audit">All tenants' events</Link>{' '}
        <button type="button" className="secondary" onClick={() => void verify()}>
          Verify the chain
        </button>
      </p>
      <ErrorText error={error} />
      {events && <AuditTable events={events} />}
    </section>
  );
}

export function AuditTable({ events, showTenant = false }: { events: AuditEvent[]; showTenant?: boolean }) {
  if (events.length === 0) return <p>No events.</p>;
  return (
    <table data-testid="audit">
      <thead>
        <tr>
          <th scope="col">When</th>
          {showTenant && <th scope="col">Tenant</th>}
          <th scope="col">Actor</th>
          <th scope="col">Action</th>
          <th scope="col">Target</th>
        </tr>
      </thead>
      <tbody>
        {events.map((e) => (
          <tr key={e.id}>
            <td>{when(e.at)}</td>
            {showTenant && <td>{e.tenantId ? <Link to={`tenants/${encodeURIComponent(e.tenantId)}`}>{e.tenantId}</Link> : '—'}</td>}
            <td>{e.actor}</td>
            <td>{e.action}</td>
            <td className="text">{e.target ?? '—'}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
