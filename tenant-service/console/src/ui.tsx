import { createContext, useContext, useEffect, useRef, useState, type ReactNode } from 'react';
import { describeError, type Api } from './api';

/** What every page gets: the admin API (with the key in memory), navigation, and the live region. */
export interface Session {
  api: Api;
  navigate(path: string): void;
  /** Says `message` in the page's aria-live status region (and shows it). */
  announce(message: string): void;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside a signed-in console');
  return s;
}

/** A link inside the console: a real <a href> (open in a new tab works), routed in the page on a plain click. */
export function Link({ to, children, current }: { to: string; children: ReactNode; current?: boolean }) {
  const { navigate } = useSession();
  return (
    <a
      href={`/console/${to}`}
      aria-current={current ? 'page' : undefined}
      onClick={(e) => {
        if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
        e.preventDefault();
        navigate(to);
      }}
    >
      {children}
    </a>
  );
}

/**
 * For a section whose action removes the very button that was pressed (a revoked key's Revoke, a
 * retried message's row, Suspend swapped for Reactivate): the browser then drops the focus to
 * <body> and a keyboard user starts again from the page's top. Call `expect()` when the action
 * succeeded; once `shown` (what the section shows) has changed, the section's heading (`ref`, with
 * tabIndex -1) takes the focus, if nothing else has it.
 */
export function useFocusReturn<T extends HTMLElement>(shown: unknown) {
  const ref = useRef<T>(null);
  const pending = useRef(false);
  useEffect(() => {
    if (!pending.current) return;
    pending.current = false;
    if (!document.activeElement || document.activeElement === document.body) ref.current?.focus();
  }, [shown]);
  return {
    ref,
    expect: () => {
      pending.current = true;
    },
  };
}

/**
 * A useEffect's load: `promise`'s outcome goes to `onValue` or `onError` unless the effect was
 * cleaned up first (its inputs changed, or the component went), so an earlier answer arriving
 * after a later one is dropped. Returns the cleanup: `useEffect(() => loadInto(...), [deps])`.
 */
export function loadInto<T>(promise: Promise<T>, onValue: (value: T) => void, onError: (err: unknown) => void): () => void {
  let live = true;
  promise.then(
    (value) => live && onValue(value),
    (err) => live && onError(err),
  );
  return () => {
    live = false;
  };
}

/** An API error as the user reads it (role=alert: announced at once). */
export function ErrorText({ error }: { error: string | null }) {
  if (!error) return null;
  return (
    <p className="error" role="alert">
      {error}
    </p>
  );
}

/** A secret shown this once (a new API key), with a button that copies it. */
export function ShownOnce({ label, value }: { label: string; value: string }) {
  const { announce } = useSession();
  const [copied, setCopied] = useState(false);
  return (
    <div className="shown-once" data-testid="shown-once">
      <p>
        <strong>{label}</strong> — shown only this once: copy it now and hand it over safely.
      </p>
      <code className="secret" aria-label={label}>
        {value}
      </code>
      <button
        type="button"
        onClick={async () => {
          try {
            await navigator.clipboard.writeText(value);
            setCopied(true);
            announce(`${label} copied to the clipboard`);
          } catch {
            announce('The browser did not allow copying: select the key and copy it by hand');
          }
        }}
      >
        {copied ? 'Copied' : 'Copy'}
      </button>
    </div>
  );
}

export const when = (iso: string | null) => (iso ? new Date(iso).toISOString().replace('T', ' ').slice(0, 19) + ' UTC' : '—');

/**
 * A table's header row: one column header per name, and (`actions`) a last column for the row's
 * buttons, named for screen readers only.
 */
export function TableHead({ columns, actions }: { columns: string[]; actions?: boolean }) {
  return (
    <thead>
      <tr>
        {columns.map((c) => (
          <th key={c} scope="col">
            {c}
          </th>
        ))}
        {actions && (
          <th scope="col">
            <span className="visually-hidden">Actions</span>
          </th>
        )}
      </tr>
    </thead>
  );
}

/**
 * Runs a section's actions one at a time (a second click while one runs does nothing): clears the
 * section's error, runs `f`, then `done` (reload, focus); an API error goes to `setError`.
 * `pending` is true while one runs.
 */
export function useOneAction(setError: (error: string | null) => void, done: () => void) {
  const busy = useRef(false);
  const [pending, setPending] = useState(false);
  async function run(f: () => Promise<void>): Promise<void> {
    if (busy.current) return;
    busy.current = true;
    setPending(true);
    setError(null);
    try {
      await f();
      done();
    } catch (err) {
      setError(describeError(err));
    } finally {
      busy.current = false;
      setPending(false);
    }
  }
  return { run, pending };
}
