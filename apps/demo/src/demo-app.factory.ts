import type { Server } from 'node:http';
import { ValidationPipe, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NextFunction, Request, Response } from 'express';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { AppModule, DEMO_CONSOLE_PATH } from './app.module.js';
import type { DemoConfig } from './config/demo-config.js';
import { DemoExceptionFilter } from './http/chronicle-exception.filter.js';
import { answerClientError } from './http/client-error.handler.js';
import { checkJsonShape } from './http/json-shape.middleware.js';
import { traceRequests } from './http/trace-requests.middleware.js';
import { requireJsonBody } from './http/require-json.middleware.js';
import { startDemoTelemetry } from './telemetry/demo-telemetry.js';

/**
 * Builds the demo application (not yet listening): used by `main.ts` and by the end-to-end tests.
 * With `config.telemetry`, the OpenTelemetry SDK is registered first (Chronicle finds it when it
 * starts) and shut down with the application.
 */
export async function createDemoApp(config: DemoConfig, options: { logger?: false } = {}): Promise<INestApplication> {
  const telemetry = startDemoTelemetry(config.telemetry);
  let app: NestExpressApplication;
  try {
    app = await NestFactory.create<NestExpressApplication>(AppModule.forConfig(config, telemetry), {
      bodyParser: false,
      ...(options.logger === false ? { logger: false } : {}),
    });
  } catch (error) {
    await telemetry?.shutdown();
    throw error;
  }
  // Behind a TLS-terminating proxy (CHRONICLE_TRUST_PROXY): request.secure follows X-Forwarded-Proto,
  // so the console's session cookie is Secure (its secureCookie option is 'auto').
  if (config.trustProxy !== undefined) app.set('trust proxy', config.trustProxy);
  // Requests Node's parser refuses (431, 400) get the same JSON errors as the others.
  (app.getHttpServer() as Server).on('clientError', answerClientError);
  // A SERVER span per request, continuing the caller's traceparent (a no-op without an SDK).
  app.use(traceRequests);
  if (telemetry?.metricsHandler) {
    const serve = telemetry.metricsHandler;
    app.use('/metrics', (request: Request, response: Response, next: NextFunction) => (request.method === 'GET' ? serve(request, response) : next()));
  }
  // In this order: refuse non-JSON bodies, parse JSON, check the parsed body's shape.
  // The operations console (mounted at /chronicle when configured) posts HTML forms.
  app.use((request: Request, response: Response, next: NextFunction) =>
    request.path === DEMO_CONSOLE_PATH || request.path.startsWith(`${DEMO_CONSOLE_PATH}/`) ? next() : requireJsonBody(request, response, next),
  );
  app.useBodyParser('json', { limit: '64kb', strict: true });
  app.use(checkJsonShape);
  // The ETag of an account is its version, set by the controller; Express's body hash is not.
  app.set('etag', false);
  app.useGlobalFilters(new DemoExceptionFilter());
  app.useGlobalPipes(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: true, transform: false }));
  app.enableShutdownHooks();
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Chronicle demo bank')
      .setDescription('Accounts over HTTP on an event-sourced journal. Amounts are integer cents.')
      .setVersion('0.1.0')
      .build(),
  );
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs/openapi.json' });
  return app;
}
