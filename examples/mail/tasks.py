"""The mail job: "sends" each mail and reports how many are out so far.

Run the worker next to this file:

    offload worker amqp://guest:guest@localhost/ --queue mail --app tasks
"""

from __future__ import annotations

import os
import time

import offload

jobs = offload.JobQueue(
    os.environ.get("MAIL_AMQP_URL", "amqp://guest:guest@localhost/"),
    name=os.environ.get("MAIL_QUEUE", "mail"),
)


@jobs.job(name="mail.send")
def send_mails(addresses: list[str], seconds_per_mail: float = 0.01) -> dict[str, int]:
    """Send one mail per address (here: wait a little), reporting the running count."""
    sent = 0
    for address in addresses:
        if "@" not in address:
            continue
        time.sleep(seconds_per_mail)  # a real job would talk to an SMTP server here
        sent += 1
        offload.report(sent)
    return {"sent": sent, "skipped": len(addresses) - sent}
