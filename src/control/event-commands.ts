import { z } from 'zod';
import { ProxyctlError } from '../errors.js';
import { resolveTopics, TOPICS, TOPIC_NAMES, type EventBus, type Topic } from './events.js';
import { defineCommand, type CallContext } from './registry.js';

/**
 * events.subscribe / events.unsubscribe / events.topics. A subscription
 * belongs to its JSON-RPC connection: events arrive on it as `event`
 * notifications until events.unsubscribe or the connection closes. Talk
 * closes after one reply, so it can only list the topics.
 */

export interface Subscribed {
  topics: Topic[];
  /** The seq of the last event published before this subscription: the first one it gets is later. */
  seq: number;
}

export interface TopicInfo {
  topic: Topic;
  summary: string;
  fields: string;
  throttle_ms: number | null;
}

function session(ctx: CallContext) {
  if (ctx.dialect === 'talk') throw new ProxyctlError('PXC_ERR_BAD_PARAMS', "events need a JSON-RPC connection (talk closes after one reply): send {\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"events.subscribe\",\"params\":{\"topics\":[…]}}, or run 'proxyctl events'");
  if (!ctx.events) throw new ProxyctlError('PXC_ERR_INTERNAL', 'this connection cannot receive events');
  return ctx.events;
}

export function eventCommands(bus: EventBus) {
  return [
    defineCommand({
      method: 'events.subscribe',
      talk: 'events subscribe',
      usage: '[TOPIC…]',
      summary: 'receive events of these topics (or families: deploy, service, …; none = all) as JSON-RPC "event" notifications on this connection',
      params: z.object({ topics: z.array(z.string().min(1)).max(64).optional() }).strict(),
      fromTalk: (args) => ({ topics: [...args] }),
      handler: ({ topics }, ctx): Subscribed => {
        const s = session(ctx);
        const resolved = resolveTopics(topics);
        s.subscribe(resolved);
        return { topics: [...resolved], seq: bus.seq };
      },
    }),
    defineCommand({
      method: 'events.unsubscribe',
      talk: 'events unsubscribe',
      summary: 'stop the events of this connection',
      params: z.object({}).strict(),
      handler: (_p, ctx): { topics: Topic[] } => {
        const s = session(ctx);
        const was = s.topics;
        s.unsubscribe();
        return { topics: was };
      },
    }),
    defineCommand({
      method: 'events.topics',
      talk: 'events topics',
      summary: 'the event topics and their payload fields',
      params: z.object({}).strict(),
      handler: (): TopicInfo[] => TOPIC_NAMES.map((t) => ({ topic: t, summary: TOPICS[t].summary, fields: TOPICS[t].fields, throttle_ms: TOPICS[t].throttleMs ?? null })),
      renderText: (list) => list.map((t) => `${t.topic}: ${t.summary}\n  fields: ${t.fields}`).join('\n'),
    }),
  ] as const;
}
