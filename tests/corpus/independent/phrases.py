"""Words around the values: what each locale calls an identifier, the keys services put it
under, and sentences of the locale's language it sits in. Written from how forms, letters
and service logs in those countries word things, not from the scrubber's keyword lists."""

from __future__ import annotations

LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "pt_BR", "nl_NL", "pl_PL", "en_IN")


def lang(locale: str) -> str:
    return locale.split("_")[0]


#: sentences of each language around a keyword ``{kw}`` and a value ``{v}``
FREE = {
    "en": [
        "Customer {kw} {v} requested a refund for the last order.",
        "Verified {kw} {v} against the registry, all good",
        "could not match {kw} {v}; escalating to support",
        "Updated profile: {kw} {v}.",
    ],
    "de": [
        "Kunde mit {kw} {v} hat eine Erstattung beantragt.",
        "Die Angabe {kw} {v} wurde erfolgreich geprüft",
        "Abgleich fehlgeschlagen für {kw} {v}, bitte manuell prüfen",
    ],
    "fr": [
        "Le client ({kw} {v}) a demandé un remboursement.",
        "Vérification réussie pour {kw} {v}",
        "Impossible de rapprocher {kw} {v} ; transmis au support",
    ],
    "es": [
        "El cliente con {kw} {v} solicitó un reembolso.",
        "Se verificó {kw} {v} correctamente",
        "No se pudo validar {kw} {v}, se envía a soporte",
    ],
    "it": [
        "Il cliente con {kw} {v} ha richiesto un rimborso.",
        "Verifica completata per {kw} {v}",
        "Impossibile verificare {kw} {v}, inoltrato al supporto",
    ],
    "pt": [
        "Cliente com {kw} {v} solicitou reembolso.",
        "Verificação concluída para {kw} {v}",
        "Não foi possível validar {kw} {v}, enviado ao suporte",
    ],
    "nl": [
        "Klant met {kw} {v} heeft een terugbetaling aangevraagd.",
        "Controle geslaagd voor {kw} {v}",
        "Kon {kw} {v} niet verifiëren, doorgezet naar support",
    ],
    "pl": [
        "Klient o {kw} {v} poprosił o zwrot pieniędzy.",
        "Weryfikacja zakończona dla {kw} {v}",
        "Nie udało się zweryfikować {kw} {v}, przekazano do wsparcia",
    ],
}

#: what a national identifier is called next to it: (keywords, keys)
NATIONAL_WORDS: dict[str, tuple[list[str], list[str]]] = {
    "br_cpf": (["CPF", "CPF nº", "CPF:"], ["cpf", "customer_cpf", "documento"]),
    "in_aadhaar": (["Aadhaar", "Aadhaar no.", "UID"], ["aadhaar", "aadhaar_number", "uid"]),
    "in_pan": (["PAN", "PAN card", "PAN:"], ["pan", "pan_number", "tax_id"]),
    "fr_nir": (["NIR", "n° de sécurité sociale", "numéro de sécu"], ["nir", "num_secu", "insee"]),
    "es_dni": (["DNI", "NIF", "DNI:"], ["dni", "nif", "documento"]),
    "es_nie": (["NIE", "NIE:", "nº NIE"], ["nie", "documento", "id_extranjero"]),
    "it_codice_fiscale": (
        ["codice fiscale", "CF", "C.F."],
        ["codice_fiscale", "cf", "fiscal_code"],
    ),
    "de_steuer_id": (
        ["Steuer-ID", "Steuer-IdNr.", "Steueridentifikationsnummer"],
        ["steuer_id", "idnr", "tax_id"],
    ),
    "nl_bsn": (["BSN", "burgerservicenummer", "BSN:"], ["bsn", "burgerservicenummer", "sofi"]),
    "pl_pesel": (["PESEL", "nr PESEL", "PESEL:"], ["pesel", "nr_pesel", "national_id"]),
    "gb_nino": (
        ["NI number", "National Insurance number", "NINO"],
        ["nino", "ni_number", "national_insurance"],
    ),
    "gb_nhs": (["NHS number", "NHS no.", "NHS No:"], ["nhs_number", "nhs", "patient_nhs"]),
    "us_ssn": (
        ["SSN", "social security number", "SSN#"],
        ["ssn", "social_security_number", "tax_id"],
    ),
}

#: context-marked kinds: language -> phrases with ``{v}``
NAME = {
    "en": [
        "Dear {v},",
        "customer name: {v}",
        "shipped to {v}",
        "account holder: {v}",
        "cardholder={v}",
        "Recipient: {v}",
    ],
    "de": [
        "Sehr geehrte(r) {v},",
        "Kundenname: {v}",
        "Kontoinhaber: {v}",
        "Empfänger: {v}",
        "Hallo {v},",
    ],
    "fr": [
        "Bonjour {v},",
        "Nom du client : {v}",
        "Titulaire du compte : {v}",
        "Destinataire : {v}",
    ],
    "es": [
        "Estimado/a {v}:",
        "Nombre del cliente: {v}",
        "Titular de la cuenta: {v}",
        "Destinatario: {v}",
    ],
    "it": ["Gentile {v},", "Nome cliente: {v}", "Intestatario del conto: {v}", "Destinatario: {v}"],
    "pt": ["Prezado(a) {v},", "Nome do cliente: {v}", "Titular da conta: {v}", "Destinatário: {v}"],
    "nl": ["Beste {v},", "Klantnaam: {v}", "Rekeninghouder: {v}", "Ontvanger: {v}"],
    "pl": [
        "Szanowny Kliencie {v},",
        "Imię i nazwisko: {v}",
        "Właściciel rachunku: {v}",
        "Odbiorca: {v}",
    ],
}
NAME_KEYS = ["full_name", "name", "customer_name", "cardholder_name"]

BIRTH = {
    "en": ["DOB: {v}", "date of birth {v}", "born {v}", "birthdate={v}", "Date of Birth: {v}"],
    "de": ["Geburtsdatum: {v}", "geboren am {v}", "Geb.-Datum {v}"],
    "fr": ["date de naissance : {v}", "né(e) le {v}", "Date de naissance {v}"],
    "es": ["fecha de nacimiento: {v}", "nacido el {v}", "F. nacimiento {v}"],
    "it": ["data di nascita: {v}", "nato il {v}", "Data nascita {v}"],
    "pt": ["data de nascimento: {v}", "nascido em {v}", "Data de nasc. {v}"],
    "nl": ["geboortedatum: {v}", "geboren op {v}", "Geb. datum {v}"],
    "pl": ["data urodzenia: {v}", "urodzony {v}", "Data ur. {v}"],
}
BIRTH_KEYS = ["dob", "date_of_birth", "birthdate", "birth_date"]
DATE_FORMATS = {
    "en_US": ["%m/%d/%Y", "%Y-%m-%d", "%B %d, %Y"],
    "en_GB": ["%d/%m/%Y", "%Y-%m-%d", "%d %B %Y"],
    "en_IN": ["%d/%m/%Y", "%d-%m-%Y", "%Y-%m-%d"],
}
DATE_DEFAULT = ["%d.%m.%Y", "%d/%m/%Y", "%Y-%m-%d"]

PASSPORT = {
    "en": ["passport no. {v}", "Passport Number: {v}", "passport={v}", "passport #{v}"],
    "de": ["Reisepassnummer: {v}", "Pass-Nr. {v}", "Reisepass {v}"],
    "fr": ["numéro de passeport : {v}", "passeport n° {v}", "Passeport {v}"],
    "es": ["número de pasaporte: {v}", "pasaporte nº {v}", "Pasaporte {v}"],
    "it": ["numero di passaporto: {v}", "passaporto n. {v}", "Passaporto {v}"],
    "pt": ["número do passaporte: {v}", "passaporte nº {v}", "Passaporte {v}"],
    "nl": ["paspoortnummer: {v}", "paspoort nr. {v}", "Paspoort {v}"],
    "pl": ["numer paszportu: {v}", "paszport nr {v}", "Paszport {v}"],
}
PASSPORT_KEYS = ["passport", "passport_number", "passport_no"]

ADDRESS = {
    "en": [
        "ship to: {v}",
        "billing address: {v}",
        "address={v}",
        "Shipping address: {v}",
        "deliver to {v}",
    ],
    "de": ["Lieferadresse: {v}", "Rechnungsadresse: {v}", "Anschrift: {v}"],
    "fr": ["adresse de livraison : {v}", "Adresse de facturation : {v}", "Adresse : {v}"],
    "es": ["dirección de envío: {v}", "Dirección de facturación: {v}", "Domicilio: {v}"],
    "it": ["indirizzo di spedizione: {v}", "Indirizzo di fatturazione: {v}", "Indirizzo: {v}"],
    "pt": ["endereço de entrega: {v}", "Endereço de cobrança: {v}", "Endereço: {v}"],
    "nl": ["bezorgadres: {v}", "Factuuradres: {v}", "Adres: {v}"],
    "pl": ["adres dostawy: {v}", "Adres rozliczeniowy: {v}", "Adres: {v}"],
}
ADDRESS_KEYS = ["address", "shipping_address", "billing_address"]

PHONE = {
    "en": [
        "tel {v}",
        "phone: {v}",
        "mobile {v}",
        "call back on {v}",
        "SMS code sent to {v}",
        "Tel: {v}",
    ],
    "de": ["Tel. {v}", "Telefon: {v}", "Handy {v}", "Rückruf unter {v}", "SMS an {v} gesendet"],
    "fr": ["tél. {v}", "Téléphone : {v}", "portable {v}", "rappeler au {v}", "SMS envoyé au {v}"],
    "es": ["tel. {v}", "Teléfono: {v}", "móvil {v}", "llamar al {v}", "SMS enviado al {v}"],
    "it": ["tel. {v}", "Telefono: {v}", "cellulare {v}", "richiamare al {v}", "SMS inviato al {v}"],
    "pt": ["tel. {v}", "Telefone: {v}", "celular {v}", "retornar para {v}", "SMS enviado para {v}"],
    "nl": [
        "tel. {v}",
        "Telefoon: {v}",
        "mobiel {v}",
        "terugbellen op {v}",
        "sms verstuurd naar {v}",
    ],
    "pl": ["tel. {v}", "Telefon: {v}", "komórka {v}", "oddzwonić na {v}", "SMS wysłany na {v}"],
}
PHONE_KEYS = ["phone", "mobile", "msisdn", "phone_number", "tel"]

#: benign look-alikes and the words usually around them
BENIGN_WORDS = {
    "order_number": [
        "order {v}",
        "Bestellung {v}",
        "commande {v}",
        "pedido {v}",
        "ordine {v}",
        "zamówienie {v}",
    ],
    "invoice_number": [
        "invoice {v}",
        "Rechnung {v}",
        "facture {v}",
        "factura {v}",
        "fattura {v}",
        "nota fiscal {v}",
    ],
    "version": ["deployed version {v}", "client v{v}", "app_version={v}", "Version {v}"],
    "uuid": ["request_id={v}", "session {v}", "correlation id {v}"],
    "timestamp": ["at {v}", "created_at={v}", "expires {v}"],
    "epoch_ms": ["ts={v}", "timestamp {v}", "since={v}"],
    "sha256": ["sha256:{v}", "digest {v}", "etag={v}"],
    "git_sha": ["commit {v}", "build from {v}", "rev={v}"],
    "price": ["total {v}", "Preis {v}", "prix {v}", "precio {v}", "amount={v}"],
    "isbn": ["ISBN {v}", "isbn={v}", "book {v}"],
    "tracking_number": [
        "tracking {v}",
        "Sendungsnummer {v}",
        "numéro de suivi {v}",
        "tracking_no={v}",
    ],
    "event_date": [
        "delivered on {v}",
        "valid until {v}",
        "Lieferdatum {v}",
        "date de commande : {v}",
        "created {v}",
    ],
    "checksum_failing_id": [
        "ref {v}",
        "customer no. {v}",
        "Kundennummer {v}",
        "account {v}",
        "member_id={v}",
    ],
    "product_name": ["bought {v}", "product: {v}", "item={v}"],
    "duration": ["took {v}", "latency={v}", "in {v}"],
    "ticket_id": ["see {v}", "ticket {v}", "linked {v}"],
}
