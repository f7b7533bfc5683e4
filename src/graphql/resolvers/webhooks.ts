// Resolvers of webhook subscriptions and deliveries: thin over src/webhooks/subscriptions.ts, which
// checks roles and scope (admins for their subtree, merchants for themselves).
import type { Context } from '../context.js';
import { eventTypes } from '../../events/feed.js';
import {
  createWebhookSubscription, deleteWebhookSubscription, listWebhookDeliveries, listWebhookSubscriptions, redeliverWebhookEvents,
  rotateWebhookSecret, setWebhookSubscriptionStatus, subscriptionInScope, type DeliveryStatus, type RedeliverInput, type WebhookSubscription,
} from '../../webhooks/subscriptions.js';

type Ref = { input: { id: string } };

export const webhookResolvers = {
  Query: {
    webhookEventTypes: () => eventTypes,
    webhookSubscriptions: (_: unknown, args: { branch?: string | null; first?: number | null; after?: string | null }, ctx: Context) =>
      listWebhookSubscriptions(ctx.bank, ctx.principal, args),
    webhookSubscription: (_: unknown, { id }: { id: string }, ctx: Context) => subscriptionInScope(ctx.bank, ctx.principal, id),
    webhookDeliveries: (_: unknown, args: { subscription: string; status?: DeliveryStatus | null; first?: number | null; after?: string | null }, ctx: Context) =>
      listWebhookDeliveries(ctx.bank, ctx.principal, args),
  },
  Mutation: {
    createWebhookSubscription: (_: unknown, { input }: { input: any }, ctx: Context) => createWebhookSubscription(ctx.bank, ctx.principal, input),
    pauseWebhookSubscription: (_: unknown, { input }: Ref, ctx: Context) => setWebhookSubscriptionStatus(ctx.bank, ctx.principal, input.id, 'PAUSED'),
    resumeWebhookSubscription: (_: unknown, { input }: Ref, ctx: Context) => setWebhookSubscriptionStatus(ctx.bank, ctx.principal, input.id, 'ACTIVE'),
    deleteWebhookSubscription: (_: unknown, { input }: Ref, ctx: Context) => deleteWebhookSubscription(ctx.bank, ctx.principal, input.id),
    rotateWebhookSecret: (_: unknown, { input }: { input: { id: string; idempotencyKey?: string | null } }, ctx: Context) => rotateWebhookSecret(ctx.bank, ctx.principal, input),
    redeliverWebhookEvents: (_: unknown, { input }: { input: RedeliverInput }, ctx: Context) => redeliverWebhookEvents(ctx.bank, ctx.principal, input),
  },
  WebhookSubscription: {
    branch: (s: WebhookSubscription, _: unknown, ctx: Context) => ctx.bank.branches.requireById(s.branchId),
    merchant: (s: WebhookSubscription, _: unknown, ctx: Context) => (s.merchantId ? ctx.loaders.merchant.load(s.merchantId) : null),
    deadLetters: (s: WebhookSubscription) => s.dead,
  },
};
