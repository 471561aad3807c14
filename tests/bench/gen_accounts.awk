# Writes N benchmark accounts with realistic field sizes, the same rows twice:
# proto3 JSON lines on standard output (for `concord account import`) and
# tab-separated lines to the file named by tsv (for psql \copy, the limit).
#
#   awk -v n=100000 -v owner=1 -v tsv=accounts.tsv -f gen_accounts.awk > accounts.ndjson
#
# The sequence is fixed (srand(7)) so two runs load the same data. Names are
# "<Prefix> <Trade> [<City>]": the 40 prefixes are the search words the
# benchmark uses, each found in about 1 of 40 names.
BEGIN {
    srand(7)
    np = split("Nordwind Alpenblick Sonnenhof Bluewater Redstone Silverline Greenfield " \
               "Ironbridge Oakridge Brightpath Stormcrest Clearview Highland Riverbend " \
               "Eastgate Westbrook Northstar Southport Goldleaf Pinecrest Maplewood " \
               "Lakeshore Harborview Summitpeak Crystalbay Falconer Wolfsburg Eichenwald " \
               "Rosenthal Lindenhof Birkenfeld Kastanie Seaview Stonegate Ashford Kingsley " \
               "Brookfield Fairhaven Redwood Copperfield", prefix, " ")
    nt = split("Logistics Manufacturing Software Consulting Retail Pharma Energy Foods " \
               "Engineering Insurance Telecom Automotive Textiles Robotics Analytics Media " \
               "Construction Chemicals Hospitality Freight", trade, " ")
    nc = split("Berlin Munich Hamburg Vienna Zurich Lyon Milan Madrid Oslo Prague Dublin " \
               "Leeds Porto Gdansk Tallinn", city, " ")
    nl = split("GmbH AG Ltd. S.A. B.V. Oy SE plc", legal, " ")
    ni = split("manufacturing|software|financial services|healthcare|retail|logistics|" \
               "energy|telecommunications|public sector|automotive|education|media", industry, "|")
    nr = split("DACH|Nordics|Benelux|UK & Ireland|France|Iberia|Italy|CEE", region, "|")
    split("LARGE MEDIUM SMALL ENTRY", size, " ")
    split("TRANSACTIONAL CONSULTATIVE ENTERPRISE", mode, " ")
    split("PROFESSIONAL_SERVICES SOLUTION PRODUCT ONLINE_SERVICE", model, " ")
    ng = split("key-account partner renewal-2025 expansion at-risk reference public-tender " \
               "pilot strategic sme channel upsell cloud on-prem migration priority", tag, " ")
    nw = split("met with the head of IT to discuss the rollout plan and next quarter budget " \
               "customer asked for a revised proposal including training and support options " \
               "procurement requires three references and a security questionnaire before " \
               "signature the champion moved to a new role so we need a new sponsor soon", word, " ")
    for (i = 1; i <= n; i++) {
        p = prefix[int(rand() * np) + 1]
        name = p " " trade[int(rand() * nt) + 1]
        if (rand() < 0.4)
            name = name " " city[int(rand() * nc) + 1]
        lname = name " " legal[int(rand() * nl) + 1]
        ind = industry[int(rand() * ni) + 1]
        reg = region[int(rand() * nr) + 1]
        sz = size[int(rand() * 4) + 1]
        sm = mode[int(rand() * 3) + 1]
        bm = model[int(rand() * 4) + 1]
        web = "https://www." tolower(p) "-" i ".example.com"
        k = int(rand() * 4)
        jtags = ""
        ttags = ""
        for (t = 0; t < k; t++) {
            g = tag[int(rand() * ng) + 1]
            jtags = jtags (t ? "," : "") "\"" g "\""
            ttags = ttags (t ? "," : "") g
        }
        len = 100 + int(rand() * 300)
        notes = ""
        while (length(notes) < len)
            notes = notes (notes == "" ? "" : " ") word[int(rand() * nw) + 1]
        printf "{\"name\":\"%s\",\"legalName\":\"%s\",\"industry\":\"%s\",\"region\":\"%s\"," \
               "\"sizeClass\":\"%s\",\"sellingMode\":\"%s\",\"businessModel\":\"%s\"," \
               "\"website\":\"%s\",\"tags\":[%s],\"notes\":\"%s\"}\n",
               name, lname, ind, reg, sz, sm, bm, web, jtags, notes
        printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t{%s}\t%s\t%s\n",
               name, lname, ind, reg, tolower(sz), tolower(sm), tolower(bm), web, ttags, notes,
               owner > tsv
    }
}
