/** The Genesys simulator's own `/_sim/*` routes (the shared ones are in ../control.ts). */
import { answerControl } from '../control';
import type { SimRequest, SimResponse } from '../common';
import type { GenesysOrgOptions } from './oauth';
import type { AgentReplyOptions, AgentTypingOptions, OutboundWebhookTarget } from './outbound-webhook';
import type { GenesysSimulator } from './index';

export function control(sim: GenesysSimulator, req: SimRequest): Promise<SimResponse> {
  return answerControl(req, sim, 'integrationId', {
    'POST /_sim/orgs': (input) => {
      sim.addOrg(input as unknown as GenesysOrgOptions);
      return { status: 201, body: { ok: true } };
    },
    'GET /_sim/received': () => ({ status: 200, body: sim.received }),
    'GET /_sim/calls': () => ({ status: 200, body: sim.calls }),
    'GET /_sim/outbound': () => ({ status: 200, body: sim.outbound }),
    // {integrationId, webhookUrl, secret, headers?, nickname?}
    'POST /_sim/outbound-webhooks': (input) => {
      sim.setOutboundWebhook(input as unknown as OutboundWebhookTarget);
      return { status: 201, body: { ok: true } };
    },
    'GET /_sim/agentless': () => ({ status: 200, body: sim.agentlessMessages() }),
    'POST /_sim/agent-reply': async (input) => ({ status: 200, body: await sim.agentReply(input as unknown as AgentReplyOptions) }),
    'POST /_sim/agent-typing': async (input) => ({ status: 200, body: await sim.agentTyping(input as unknown as AgentTypingOptions) }),
    'POST /_sim/revoke-tokens': (input) => {
      sim.revokeTokens(typeof input.clientId === 'string' ? input.clientId : undefined);
      return { status: 200, body: { ok: true } };
    },
  });
}
