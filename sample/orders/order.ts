/** An accepted order. */
export interface Order {
  id: string;
  productId: string;
  quantity: number;
  placedAt: Date;
  placedBy: string;
}

/** The queue confirmation jobs go through. */
export const CONFIRMATIONS_QUEUE = 'order-confirmations';
/** Quantity that the (pretend) mail server always rejects: shows retries and the dead-letter list. */
export const UNLUCKY_QUANTITY = 13;
