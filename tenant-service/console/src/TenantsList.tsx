import { useEffect, useMemo, useState } from 'react';
import { describeError, type Tenant } from './api';
import { ErrorText, Link, TableHead, useSession, when } from './ui';

/** The admin API lists tenants by id, at most 1000 a page: the console reads up to this many pages. */
const PAGE = 1000;
const MAX_PAGES = 20;

/**
 * Every tenant (GET /tenants, page after page), searched and filtered in the page: the admin API
 * lists by id only, and a platform's tenants fit in memory.
 */
export function TenantsList() {
  const { api } = useSession();
  const [tenants, setTenants] = useState<Tenant[] | null>(null);
  const [truncated, setTruncated] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [search, setSearch] = useState('');
  const [status, setStatus] = useState('');

  useEffect(() => {
    let live = true;
    (async () => {
      const all: Tenant[] = [];
      for (let i = 0; i < MAX_PAGES; i++) {
        const after = all.length ? `&after=${encodeURIComponent(all[all.length - 1].tenantId)}` : '';
        const page = await api.get<Tenant[]>(`/tenants?limit=${PAGE}${after}`);
        all.push(...page);
        if (page.length < PAGE) return { all, more: false };
      }
      return { all, more: true };
    })().then(
      ({ all, more }) => {
        if (!live) return;
        setTenants(all);
        setTruncated(more);
      },
      (err) => live && setError(describeError(err)),
    );
    return () => {
      live = false;
    };
  }, [api]);

  const shown = useMemo(() => {
    const q = search.trim().toLowerCase();
    return (tenants ?? []).filter(
      (t) => (!status || t.status === status) && (!q || t.tenantId.toLowerCase().includes(q) || t.name.toLowerCase().includes(q) || (t.subdomain ?? '').toLowerCase().includes(q)),
    );
  }, [tenants, search, status]);

  return (
    <section>
      <h1 tabIndex={-1}>Tenants</h1>
      <form className="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <div>
          <label htmlFor="tenant-search">Search (id, name or subdomain)</label>
          <input id="tenant-search" type="search" value={search} onChange={(e) => setSearch(e.target.value)} />
        </div>
        <div>
          <label htmlFor="tenant-status">Status</label>
          <select id="tenant-status" value={status} onChange={(e) => setStatus(e.target.value)}>
            <option value="">Any</option>
            <option value="active">Active</option>
            <option value="suspended">Suspended</option>
            <option value="pending">Pending</option>
          </select>
        </div>
      </form>
      <ErrorText error={error} />
      {tenants === null && !error && <p>Loading…</p>}
      {tenants && (
        <>
          <p aria-live="polite">
            {shown.length} of {tenants.length} tenants{truncated ? ` (the first ${PAGE * MAX_PAGES} by id)` : ''}
          </p>
          <table>
            <TableHead columns={['Tenant', 'Name', 'Status', 'Plan', 'Created']} />
            <tbody>
              {shown.map((t) => (
                <tr key={t.tenantId}>
                  <td>
                    <Link to={`tenants/${encodeURIComponent(t.tenantId)}`}>{t.tenantId}</Link>
                  </td>
                  <td className="text">{t.name}</td>
                  <td>
                    <span className={`badge ${t.status}`}>{t.status}</span>
                  </td>
                  <td>{t.plan}</td>
                  <td>{when(t.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
