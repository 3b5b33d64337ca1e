import { runMain } from '@order-mail/shared/http';
import { loadOrderApiConfig } from './config';
import { startOrderApi } from './service';

runMain('order-api', loadOrderApiConfig, startOrderApi);
