/**
 * Minimal Reflect metadata polyfill for `@peculiar/x509`.
 *
 * `@peculiar/x509` 2.x loads `tsyringe`, which throws at import time unless `Reflect.getMetadata`
 * exists ("tsyringe requires a reflect polyfill"). The usual fix is the `reflect-metadata` package;
 * until it is a dependency, this covers the handful of calls tsyringe makes
 * (`getMetadata`, `getOwnMetadata`, `defineMetadata`, plus `hasMetadata`/`hasOwnMetadata`/`metadata`).
 *
 * Import it for its side effect *before* `@peculiar/x509` (ES modules evaluate in import order).
 * It leaves an existing polyfill alone.
 */

type Key = string | symbol | undefined;
type Store = Map<Key, Map<unknown, unknown>>;

const reflect = Reflect as unknown as Record<string, unknown>;

if (typeof reflect.getMetadata !== 'function') {
  const stores = new WeakMap<object, Store>();

  const ownMap = (target: object, key: Key, create: boolean): Map<unknown, unknown> | undefined => {
    let store = stores.get(target);
    if (!store) {
      if (!create) return undefined;
      store = new Map();
      stores.set(target, store);
    }
    let map = store.get(key);
    if (!map && create) {
      map = new Map();
      store.set(key, map);
    }
    return map;
  };

  const isObject = (value: unknown): value is object =>
    (typeof value === 'object' && value !== null) || typeof value === 'function';

  const defineMetadata = (metadataKey: unknown, value: unknown, target: object, key?: Key): void => {
    ownMap(target, key, true)?.set(metadataKey, value);
  };
  const hasOwnMetadata = (metadataKey: unknown, target: object, key?: Key): boolean =>
    ownMap(target, key, false)?.has(metadataKey) ?? false;
  const getOwnMetadata = (metadataKey: unknown, target: object, key?: Key): unknown =>
    ownMap(target, key, false)?.get(metadataKey);
  const hasMetadata = (metadataKey: unknown, target: object, key?: Key): boolean => {
    // Walks the prototype chain; bounded by the chain's length (it always ends in null).
    for (let t: unknown = target; isObject(t); t = Object.getPrototypeOf(t)) {
      if (hasOwnMetadata(metadataKey, t, key)) return true;
    }
    return false;
  };
  const getMetadata = (metadataKey: unknown, target: object, key?: Key): unknown => {
    for (let t: unknown = target; isObject(t); t = Object.getPrototypeOf(t)) {
      const map = ownMap(t, key, false);
      if (map?.has(metadataKey)) return map.get(metadataKey);
    }
    return undefined;
  };
  const metadata =
    (metadataKey: unknown, value: unknown) =>
    (target: object, key?: Key): void =>
      defineMetadata(metadataKey, value, target, key);

  Object.assign(reflect, { defineMetadata, hasOwnMetadata, getOwnMetadata, hasMetadata, getMetadata, metadata });
}

export {};
