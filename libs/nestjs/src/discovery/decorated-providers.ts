import type { DiscoveryService } from '@nestjs/core';
import { ConfigurationError } from '@chronicle/core';

/** A singleton provider that carries a class decorator's metadata. */
export interface DecoratedProvider<M> {
  instance: object;
  metadata: M;
  className: string;
}

/**
 * The application's providers whose class carries `read`'s metadata (`noun` names them in errors:
 * "Outbox handler", "Projection", "Saga"), refusing request-scoped ones
 * (background loops run outside requests) and two providers under one name.
 */
export function findDecoratedProviders<M>(
  discovery: DiscoveryService,
  decorator: string,
  noun: string,
  read: (type: object) => M | undefined,
  nameOf: (metadata: M) => string,
): DecoratedProvider<M>[] {
  const found: DecoratedProvider<M>[] = [];
  const owners = new Map<string, string>();
  for (const wrapper of discovery.getProviders()) {
    const type = wrapper.metatype;
    if (!type || typeof type !== 'function') continue;
    const metadata = read(type);
    if (metadata === undefined) continue;
    const className = type.name;
    const name = nameOf(metadata);
    if (!wrapper.isDependencyTreeStatic()) {
      throw new ConfigurationError(
        `${decorator}('${name}') on ${className} is request-scoped (or depends on a request-scoped provider); ` +
          'it runs outside requests, so it must be a singleton.',
      );
    }
    const other = owners.get(name);
    if (other) throw new ConfigurationError(`${noun} name "${name}" is used twice: by ${other} and by ${className}.`);
    owners.set(name, className);
    const instance = wrapper.instance as object | undefined;
    if (!instance) throw new ConfigurationError(`${decorator}('${name}') on ${className} has no instance; declare it as a provider.`);
    found.push({ instance, metadata, className });
  }
  return found;
}
