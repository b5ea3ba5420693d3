"""Every requirement a check may link to, with its title in our own words.

Kept apart from the report (``conformance.report.controls`` shows them, ``conformance.checks``
refuses a link to a requirement missing here), so that the check registry does not depend on the
report package. Titles are at the level the checks link to: a summary to find one's way, not the
standard's text (read PCI DSS v4.0 and CIS AWS Foundations Benchmark v3.0 for that).
"""

from __future__ import annotations

TITLES = {
    "PCI-DSS-4.0:1.2.3": "An accurate network diagram shows every connection between the CDE and other networks",
    "PCI-DSS-4.0:1.2.5": "Every service, protocol and port allowed through is identified, approved and needed",
    "PCI-DSS-4.0:1.2.8": "The network security controls' configuration is kept consistent with the network in force",
    "PCI-DSS-4.0:1.3.1": "Inbound traffic to the CDE is limited to what is needed; everything else is denied",
    "PCI-DSS-4.0:1.3.2": "Outbound traffic from the CDE is limited to what is needed; everything else is denied",
    "PCI-DSS-4.0:1.4.1": "Network security controls stand between trusted and untrusted networks",
    "PCI-DSS-4.0:1.4.2": "From untrusted networks, only components offering public services can be reached",
    "PCI-DSS-4.0:1.4.4": "Components that store card data cannot be reached directly from untrusted networks",
    "PCI-DSS-4.0:2.2.1": "Configuration standards exist for every component and are implemented as written",
    "PCI-DSS-4.0:2.2.7": "Administrative access that is not at the console is encrypted with strong cryptography",
    "PCI-DSS-4.0:3.2.1": "Stored account data is kept no longer than the retention policy allows, then disposed of",
    "PCI-DSS-4.0:3.5.1": "The PAN is unreadable wherever it is stored",
    "PCI-DSS-4.0:3.6.1": "Keys that protect stored account data are guarded against disclosure and misuse",
    "PCI-DSS-4.0:3.7.1": "Key management makes keys strong when they are generated",
    "PCI-DSS-4.0:3.7.4": "Keys are changed when their cryptoperiod ends",
    "PCI-DSS-4.0:4.2.1": "Strong cryptography protects card data sent over open, public networks",
    "PCI-DSS-4.0:6.3.1": "Security vulnerabilities are identified from recognised sources and ranked by risk",
    "PCI-DSS-4.0:6.3.3": "Known critical and high vulnerabilities are fixed by patches within a month of release",
    "PCI-DSS-4.0:6.4.1": "Public-facing web applications are protected against known attacks",
    "PCI-DSS-4.0:6.4.2": "An automated solution in front of public web applications detects and blocks web attacks",
    "PCI-DSS-4.0:6.5.1": "Changes to production components follow the change-control procedure",
    "PCI-DSS-4.0:7.2.1": "An access-control model grants access by need, with least privilege",
    "PCI-DSS-4.0:7.2.5": "Application and system accounts hold only the privileges they need",
    "PCI-DSS-4.0:8.3.2": "Authentication factors are unreadable in storage and in transit",
    "PCI-DSS-4.0:8.6.2": "Passwords of application and system accounts are not hard-coded in files or code",
    "PCI-DSS-4.0:8.6.3": "Passwords of application and system accounts are strong and changed periodically",
    "PCI-DSS-4.0:10.2.1": "Audit logs are enabled and active for every component and for card data",
    "PCI-DSS-4.0:10.2.1.1": "Audit logs capture every individual access to card data",
    "PCI-DSS-4.0:10.3.1": "Only those with a job need can read audit logs",
    "PCI-DSS-4.0:10.3.2": "Audit log files are protected from modification",
    "PCI-DSS-4.0:10.3.3": "Audit logs are promptly copied to a central store that is hard to alter",
    "PCI-DSS-4.0:10.5.1": "Audit log history is kept twelve months, the last three at hand",
    "PCI-DSS-4.0:11.3.1": "Internal vulnerability scans run quarterly; their high-risk and critical findings are fixed",
    "CIS-AWS-3.0:1.16": "No IAM policy granting full '*:*' administrative privileges is attached",
    "CIS-AWS-3.0:2.1.1": "S3 bucket policies deny requests made over plain HTTP",
    "CIS-AWS-3.0:2.1.4": "S3 buckets have Block Public Access on",
    "CIS-AWS-3.0:2.3.1": "RDS storage is encrypted at rest",
    "CIS-AWS-3.0:2.3.2": "RDS instances upgrade minor engine versions automatically",
    "CIS-AWS-3.0:2.3.3": "RDS instances are not publicly accessible",
    "CIS-AWS-3.0:3.1": "CloudTrail is on in every region",
    "CIS-AWS-3.0:3.6": "Customer-created symmetric KMS keys rotate",
    "CIS-AWS-3.0:3.7": "VPC flow logging is on in every VPC",
    "CIS-AWS-3.0:5.2": "No security group admits 0.0.0.0/0 to remote administration ports",
    "CIS-AWS-3.0:5.3": "No security group admits ::/0 to remote administration ports",
    "CIS-AWS-3.0:5.4": "The default security group of every VPC restricts all traffic",
}
