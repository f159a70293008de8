export { StripeConnector, stripeConfigSchema } from "./connector";
export type { StripeConfig } from "./connector";

/** Registry id and what the catalog shows before a source exists. */
export const stripeConnectorInfo = {
  id: "stripe",
  name: "Stripe",
  entities: ["customers", "products", "prices", "subscriptions", "invoices", "charges", "payment_intents", "refunds", "balance_transactions", "events"],
} as const;
