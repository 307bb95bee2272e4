import { useEffect, useRef, useState, type FormEvent } from 'react';
import { describeError, type AuditEvent } from './api';
import { AuditTable } from './TenantPage';
import { ErrorText, useSession } from './ui';

/** GET /audit: every tenant's events, newest first, filtered by tenant and action, a page at a time. */
export function AuditPage() {
  const { api } = useSession();
  const [filter, setFilter] = useState({ tenant: '', type: '' });
  const [applied, setApplied] = useState({ tenant: '', type: '' });
  const [pages, setPages] = useState<AuditEvent[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  // The filter the shown rows are for: an answer to an earlier filter, arriving late, is dropped.
  const generation = useRef(0);

  const query = (before?: string) => {
    const q = new URLSearchParams({ limit: '50' });
    if (applied.tenant.trim()) q.set('tenant', applied.tenant.trim());
    if (applied.type.trim()) q.set('type', applied.type.trim());
    if (before) q.set('before', before);
    return `/audit?${q}`;
  };

  async function load(before?: string) {
    const mine = before ? generation.current : ++generation.current;
    setError(null);
    try {
      const page = await api.get<{ events: AuditEvent[]; nextBefore: string | null }>(query(before));
      if (mine !== generation.current) return;
      setPages((p) => (before ? [...p, ...page.events] : page.events));
      setNext(page.nextBefore);
    } catch (err) {
      if (mine !== generation.current) return;
      setError(describeError(err));
      // A refused filter: no rows of the previous one left under the error as if they matched it.
      if (!before) {
        setPages([]);
        setNext(null);
      }
    }
  }

  useEffect(() => {
    void load();
  }, [api, applied]);

  return (
    <section>
      <h1 tabIndex={-1}>Audit trail</h1>
      <form
        className="filters"
        onSubmit={(e: FormEvent) => {
          e.preventDefault();
          setApplied(filter);
        }}
      >
        <div>
          <label htmlFor="audit-tenant">Tenant id</label>
          <input id="audit-tenant" value={filter.tenant} onChange={(e) => setFilter({ ...filter, tenant: e.target.value })} />
        </div>
        <div>
          <label htmlFor="audit-type">Action (e.g. tenant.updated, or tenant)</label>
          <input id="audit-type" value={filter.type} onChange={(e) => setFilter({ ...filter, type: e.target.value })} />
        </div>
        <button type="submit">Filter</button>
      </form>
      <ErrorText error={error} />
      <AuditTable events={pages} showTenant />
      {next && (
        <button type="button" className="secondary" onClick={() => void load(next)}>
          Older events
        </button>
      )}
    </section>
  );
}
