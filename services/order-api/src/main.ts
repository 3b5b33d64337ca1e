import { runMain } from '@order-mail/shared';
import { loadOrderApiConfig } from './config';
import { startOrderApi } from './service';

runMain('order-api', loadOrderApiConfig, startOrderApi);
