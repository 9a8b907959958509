/** The shop's live settings: changed on one instance, in force on every one at once. */
export interface ShopSettings {
  /** `false` closes ordering everywhere (maintenance); open while never set. */
  ordersOpen: boolean;
}

export const SETTINGS_KEY = 'shop-settings';

/** `liveConfig.validate`: a bad value is refused at `set()` and never reaches an instance. */
export function validateSettings(key: string, value: unknown): true | string {
  if (key !== SETTINGS_KEY) return true;
  const settings = value as Partial<ShopSettings> | null;
  return typeof settings?.ordersOpen === 'boolean' || 'ordersOpen must be a boolean';
}
