import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { EventSourcingModuleExtras, EventSourcingModuleOptions } from './options/event-sourcing-module-options.interface.js';

/** Built by `ConfigurableModuleBuilder`: `forRoot` / `forRootAsync` and the options token. */
export const {
  ConfigurableModuleClass: ConfigurableEventSourcingModule,
  MODULE_OPTIONS_TOKEN: EVENT_SOURCING_MODULE_OPTIONS,
  OPTIONS_TYPE: EVENT_SOURCING_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: EVENT_SOURCING_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<EventSourcingModuleOptions>({ moduleName: 'EventSourcing' })
  .setClassMethodName('forRoot')
  .setExtras<EventSourcingModuleExtras>({ isGlobal: true }, (definition) => definition)
  .build();
