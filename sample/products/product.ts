/** A product of the sample shop. */
export interface Product {
  id: string;
  name: string;
  priceCents: number;
  stock: number;
}

/** The catalogue every instance seeds on start (idempotently). */
export const SEED_PRODUCTS: readonly Product[] = [
  { id: 'lamp', name: 'Desk lamp', priceCents: 3900, stock: 50 },
  { id: 'mug', name: 'Coffee mug', priceCents: 1200, stock: 200 },
  { id: 'chair', name: 'Office chair', priceCents: 18900, stock: 10 },
];
