"""The ways a notice travels, one module each behind ``base.Channel``: e-mail over SMTP, webhook, file drop."""
