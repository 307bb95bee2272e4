import { useEffect, useRef, useState, type FormEvent } from 'react';
import { describeError, type CreatedTenant, type Plan } from './api';
import { ErrorText, Link, ShownOnce, loadInto, useSession } from './ui';

/** POST /tenants: the tenant and its first API key, which is shown here once. */
export function CreateTenant() {
  const { api, announce } = useSession();
  const [plans, setPlans] = useState<Plan[]>([]);
  const [form, setForm] = useState({ tenantId: '', name: '', subdomain: '', plan: '' });
  const [error, setError] = useState<string | null>(null);
  const [created, setCreated] = useState<CreatedTenant | null>(null);
  const [busy, setBusy] = useState(false);
  // The new tenant's panel takes the focus: its key, to copy, is what comes next.
  const createdHeading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    if (created) createdHeading.current?.focus();
  }, [created]);

  useEffect(() => {
    return loadInto(api.get<Plan[]>('/plans'), setPlans, (err) => setError(describeError(err)));
  }, [api]);

  const field = (name: keyof typeof form) => ({
    id: `new-${name}`,
    value: form[name],
    onChange: (e: { target: { value: string } }) => setForm({ ...form, [name]: e.target.value }),
  });

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(null);
    try {
      const body: Record<string, string> = { tenantId: form.tenantId.trim(), name: form.name.trim() };
      if (form.subdomain.trim()) body.subdomain = form.subdomain.trim();
      if (form.plan) body.plan = form.plan;
      const res = await api.post<CreatedTenant>('/tenants', body);
      setCreated(res);
      setForm({ tenantId: '', name: '', subdomain: '', plan: '' });
      announce(`Tenant ${res.tenant.tenantId} created; its first API key is shown once`);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section>
      <h1 tabIndex={-1}>Create a tenant</h1>
      {created && (
        <div className="panel">
          <h2 tabIndex={-1} ref={createdHeading}>
            Tenant {created.tenant.tenantId} created
          </h2>
          <ShownOnce label="First API key" value={created.apiKey} />
          <p>
            Scopes: {created.apiKeyScopes.join(', ')}. <Link to={`tenants/${encodeURIComponent(created.tenant.tenantId)}`}>Open {created.tenant.tenantId}</Link> to store
            its credentials.
          </p>
        </div>
      )}
      <form className="stack" onSubmit={submit}>
        <label htmlFor="new-tenantId">Tenant id (lowercase letters, digits, hyphens)</label>
        <input {...field('tenantId')} required autoComplete="off" />
        <label htmlFor="new-name">Name</label>
        <input {...field('name')} required autoComplete="off" />
        <label htmlFor="new-subdomain">Subdomain (optional)</label>
        <input {...field('subdomain')} autoComplete="off" />
        <label htmlFor="new-plan">Plan</label>
        <select {...field('plan')}>
          <option value="">The default plan</option>
          {plans.map((p) => (
            <option key={p.name} value={p.name}>
              {p.name}
            </option>
          ))}
        </select>
        <button type="submit" aria-disabled={busy}>
          Create tenant
        </button>
      </form>
      <ErrorText error={error} />
    </section>
  );
}
