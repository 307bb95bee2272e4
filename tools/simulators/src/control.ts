/**
 * The `/_sim/*` control API both simulators serve when started with `controlApi` (the CLI does,
 * for demos driven from a shell): a JSON object in, a JSON answer out. The routes they share —
 * fault rules, outage and latency switches, reset — are here; each simulator adds its own.
 */
import { isObject, parseJson, type SimRequest, type SimResponse } from './common';

/** What the shared routes drive; `Scope` narrows a switch to one key (an integration, a number). */
export interface Controllable<Fault, Scope> {
  failNext(n: number, fault: Fault): void;
  setOutage(on: boolean, scope?: Scope): void;
  setLatency(ms: number, scope?: Scope): void;
  reset(): void;
}

/** A simulator's own routes, by `METHOD /path`. */
export type ControlRoutes = Record<string, (input: Record<string, unknown>) => SimResponse | Promise<SimResponse>>;

const ok = (): SimResponse => ({ status: 200, body: { ok: true } });

/**
 * Answers one control request: 400 when the body is not a JSON object or an operation throws
 * (naming the error), 404 for an unknown route. `scopeKey` is the input field that scopes
 * `outage` and `latency`.
 */
export async function answerControl<Fault, Scope>(
  req: SimRequest,
  sim: Controllable<Fault, Scope>,
  scopeKey: keyof Scope & string,
  routes: ControlRoutes,
): Promise<SimResponse> {
  const input = req.body.length > 0 ? parseJson(req.body) : {};
  if (!isObject(input)) return { status: 400, body: { error: 'JSON object body expected' } };
  const scope = { [scopeKey]: typeof input[scopeKey] === 'string' ? input[scopeKey] : undefined } as Scope;
  const route = `${req.method} ${req.path}`;
  const shared: ControlRoutes = {
    'POST /_sim/fail-next': () => {
      const { n, ...fault } = input as unknown as Fault & { n: number };
      sim.failNext(n, fault as Fault);
      return ok();
    },
    'POST /_sim/outage': () => {
      sim.setOutage(input.on === true, scope);
      return ok();
    },
    'POST /_sim/latency': () => {
      sim.setLatency(Number(input.ms ?? 0), scope);
      return ok();
    },
    'POST /_sim/reset': () => {
      sim.reset();
      return ok();
    },
  };
  const answer = routes[route] ?? shared[route];
  if (!answer) return { status: 404, body: { error: `unknown control route ${route}` } };
  try {
    return await answer(input);
  } catch (err) {
    return { status: 400, body: { error: (err as Error).message } };
  }
}
