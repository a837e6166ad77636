"""Word pools the sandbox draws names, addresses and subjects from.

Kept apart from the generators so the pools can grow without touching logic. Some entries are
deliberately hostile (markup, Slack mentions, spreadsheet formulas) because sender text comes
from strangers and every consumer downstream must escape it.
"""

from __future__ import annotations

CATEGORIES: tuple[str, ...] = (
    "Finance",
    "Business Services",
    "Productivity & Tools",
    "Shopping",
    "Social",
    "News & Media",
    "Travel",
    "Entertainment",
    "Health & Fitness",
    "Education",
    "Developer Tools",
    "Marketing",
    "Food & Dining",
    "Government",
    "Real Estate",
    "Gaming",
    "Security",
    "Utilities & Telecom",
    "Charity & Nonprofit",
    "Personal",
)

# Categories per sender kind (legit person or business, newsletter, spam), by index into CATEGORIES.
LEGIT_CATEGORIES: tuple[int, ...] = (0, 1, 2, 10, 13, 16, 17, 19, 9, 4)
NEWSLETTER_CATEGORIES: tuple[int, ...] = (3, 4, 5, 6, 7, 8, 11, 12, 14, 15, 18)
SPAM_CATEGORIES: tuple[int, ...] = (3, 11, 0, 15)

JUNK_TLDS: tuple[str, ...] = ("xyz", "top", "click", "buzz", "icu", "club", "loan", "work")
COMMON_TLDS: tuple[str, ...] = ("com", "com", "com", "net", "org", "io", "co.uk", "de", "fr", "nl")
SPAM_OTHER_TLDS: tuple[str, ...] = ("com", "ru", "info", "biz", "cn")

FIRST_NAMES: tuple[str, ...] = (
    "anna", "ben", "carla", "david", "emma", "felix", "grace", "hugo", "iris", "jonas",
    "karin", "leo", "maria", "nina", "oscar", "paula", "quinn", "rosa", "sven", "tara",
    "umar", "vera", "wim", "xenia", "yusuf", "zoe", "li", "mateo", "aisha", "kenji",
)
LAST_NAMES: tuple[str, ...] = (
    "adams", "baker", "costa", "dubois", "evans", "fischer", "garcia", "hansen", "ivanov",
    "jansen", "kowalski", "lopez", "muller", "nakamura", "okafor", "peters", "rossi",
    "schmidt", "tanaka", "urban", "vogel", "weber", "xu", "young", "zimmer", "singh",
)
COMPANY_WORDS: tuple[str, ...] = (
    "acme", "globex", "initech", "umbrella", "hooli", "vandelay", "stark", "wayne",
    "wonka", "tyrell", "cyberdyne", "soylent", "gringotts", "oceanic", "monarch", "aperture",
    "contoso", "fabrikam", "northwind", "tailspin", "litware", "adatum", "proseware", "wingtip",
)
BRAND_WORDS: tuple[str, ...] = (
    "shopmart", "dealzone", "newsdaily", "travelbee", "fitlife", "gamehub", "foodie",
    "homefinder", "learnly", "streamflix", "socialnet", "photoshare", "techcrunchy",
)
SPAM_WORDS: tuple[str, ...] = (
    "win", "prize", "cheap", "pills", "crypto", "loan", "bonus", "casino", "offer", "lucky",
    "deal", "free", "rich", "rolex", "invest",
)
NEWSLETTER_LOCALS: tuple[str, ...] = ("news", "noreply", "hello", "deals", "updates", "info")

# Addresses that are valid or near-valid but awkward: upper case, punycode, trailing dots,
# quoted local parts carrying markup, mentions or spreadsheet formulas.
HOSTILE_EMAILS: tuple[str, ...] = (
    "BOSS@CORP.COM",
    "Payroll@Finance-Dept.EXAMPLE.COM",
    "info@xn--bcher-kva.example",
    "kontakt@xn--mnchen-3ya.de",
    "alerts@status.example.com.",
    '"<script>alert(1)</script>"@evil.click',
    '"@channel"@urgent.buzz',
    '"=HYPERLINK(""http://evil.example"",""click"")"@formula.top',
    "*bold*@promo.icu",
    "_italic_~strike~@markdown.xyz",
    "+cmd|' /C calc'!A0@csv.work",
    "&lt;admin&gt;@entity.club",
)
HOSTILE_DISPLAY_NAMES: tuple[str, ...] = (
    "Boss",
    "IT Support <script>alert('x')</script>",
    "@channel urgent",
    "<!everyone> payroll",
    "=HYPERLINK(\"http://evil.example\",\"Invoice\")",
    "*CEO* _office_",
    "Bank & Trust",
    "Support Team",
)
SUBJECTS: tuple[str, ...] = (
    "Your invoice for {month}",
    "Meeting notes",
    "Re: project update",
    "Weekly newsletter #{n}",
    "Your order #{n} has shipped",
    "Password reset request",
    "Quarterly report",
    "Lunch on Friday?",
    "You have won a prize!!!",
    "Limited offer: {n}% off today only",
    "URGENT: verify your account",
    "Cheap meds, no prescription",
)
HOSTILE_SUBJECTS: tuple[str, ...] = (
    "<script>alert('pwned')</script>",
    "@channel please read now",
    "<!here> server down",
    "=HYPERLINK(\"http://evil.example\",\"Open invoice\")",
    "=1+1",
    "*bold* _italic_ ~strike~ `code`",
    "Fwd: <b>HTML</b> & entities &amp; more",
    "Line\nbreak in subject",
    "Ünïcödé ✓ ダウンロード",
)
MONTHS: tuple[str, ...] = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)
TEAM_WORDS: tuple[str, ...] = (
    "Acme Dental", "Baker & Sons", "Costa Logistics", "Dubois Law", "Evans Design", "Fischer IT",
    "Garcia Bakery", "Hansen Marine", "Ivanov Trading", "Jansen Clinic", "Kowalski Build",
    "Lopez Travel", "Muller Print", "Nakamura Studio", "Okafor Foods", "Peters Realty",
)
ALIAS_WORDS: tuple[str, ...] = (
    "info", "sales", "support", "billing", "hr", "office", "jobs", "admin", "team", "hello",
)
