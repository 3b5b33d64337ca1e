import { runMain } from '@order-mail/shared/http';
import { loadMailerConfig } from './config';
import { startMailer } from './service';

runMain('mailer', loadMailerConfig, startMailer);
