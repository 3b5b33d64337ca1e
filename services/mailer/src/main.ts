import { runMain } from '@order-mail/shared';
import { loadMailerConfig } from './config';
import { startMailer } from './service';

runMain('mailer', loadMailerConfig, startMailer);
