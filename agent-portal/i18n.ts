// The portal's words in English and German (the original API document's two languages). A
// missing German word falls back to English, a missing key shows the key (and a test lists any).
import type { Language } from './config.js';

const en = {
  'nav.dashboard': 'Dashboard', 'nav.calls': 'Calls', 'nav.failed': 'Failed calls', 'nav.refills': 'Refills',
  'nav.sip': 'SIP accounts', 'nav.callerids': 'Caller IDs', 'nav.rates': 'Rates', 'nav.profile': 'Profile',
  'nav.password': 'Password', 'nav.topup': 'Top up', 'nav.phone': 'Web phone', 'nav.logout': 'Log out',
  'nav.clients': 'Clients', 'nav.transfer': 'Transfer', 'nav.transactions': 'Transactions', 'nav.markup': 'Markup',
  'login.title': 'Log in', 'login.login': 'Login', 'login.password': 'Password', 'login.submit': 'Log in',
  'login.failed': 'Wrong login or password.', 'login.limited': 'Too many attempts. Try again later.',
  'login.inactive': 'This account is not active.', 'login.agent': 'Agent login', 'login.client': 'Client login',
  'dash.balance': 'Balance', 'dash.plan': 'Plan', 'dash.callerid': 'Active caller ID', 'dash.none': 'none',
  'dash.recent': 'Recent calls', 'dash.spend': 'Spend per day (last 30 days)', 'dash.status': 'Status',
  'dash.active': 'active', 'dash.inactive': 'inactive',
  'calls.date': 'Date', 'calls.destination': 'Destination', 'calls.number': 'Number', 'calls.duration': 'Duration (s)',
  'calls.cost': 'Cost', 'calls.disposition': 'Result', 'calls.sip': 'SIP account', 'calls.empty': 'No calls.',
  'calls.from': 'From', 'calls.to': 'To', 'calls.filter': 'Filter', 'calls.csv': 'Download CSV', 'calls.next': 'Next page',
  'calls.first': 'First page', 'calls.total': 'calls',
  'refills.amount': 'Amount', 'refills.after': 'Balance after', 'refills.kind': 'Kind', 'refills.description': 'Description',
  'refills.empty': 'No refills.',
  'sip.host': 'Server', 'sip.login': 'Login', 'sip.callerid': 'Caller ID', 'sip.reset': 'New password',
  'sip.new_password': 'The new password of {name} (shown only now):', 'sip.status': 'Status',
  'callerids.cid': 'Number', 'callerids.name': 'Name', 'callerids.active': 'Active', 'callerids.empty': 'No caller IDs.',
  'rates.search': 'Destination or prefix', 'rates.prefix': 'Prefix', 'rates.destination': 'Destination',
  'rates.rate': 'Per minute', 'rates.connect': 'Connect charge', 'rates.blocks': 'Billing (s)', 'rates.empty': 'No rates found.',
  'profile.name': 'Name', 'profile.email': 'E-mail', 'profile.phone': 'Phone', 'profile.language': 'Language',
  'profile.save': 'Save', 'profile.saved': 'Profile saved.',
  'password.current': 'Current password', 'password.new': 'New password', 'password.repeat': 'New password again',
  'password.save': 'Change password', 'password.saved': 'Password changed.', 'password.mismatch': 'The new passwords differ.',
  'password.wrong': 'The current password is wrong.',
  'topup.amount': 'Amount ({currency})', 'topup.provider': 'Pay with', 'topup.submit': 'Continue to payment',
  'topup.none': 'No payment method is configured.', 'topup.done': 'Thank you. Your balance is credited as soon as the payment is confirmed.',
  'topup.failed': 'The payment was not completed.', 'topup.range': 'Enter an amount from {min} to {max}.',
  'topup.unavailable': 'The payment provider is not available. Try again later.',
  'phone.title': 'Web phone', 'phone.number': 'Number', 'phone.call': 'Call', 'phone.hangup': 'Hang up',
  'phone.status': 'Status', 'phone.connecting': 'Connecting…', 'phone.unavailable': 'The web phone is not available.',
  'agent.clients': 'Clients', 'agent.search': 'Search login or name', 'agent.create': 'New client', 'agent.plan': 'Plan',
  'agent.balance': 'Balance', 'agent.activate': 'Activate', 'agent.deactivate': 'Deactivate', 'agent.change_plan': 'Change plan',
  'agent.created': 'Client {login} created. Password (shown only now): {password}. SIP password: {sip}.',
  'agent.transfer_done': '{amount} credited to {login}.', 'agent.amount': 'Amount', 'agent.transfer': 'Transfer credit',
  'agent.preview': 'Preview', 'agent.save_markup': 'Save markup', 'agent.markup_saved': 'Markup saved.', 'agent.markup': 'Markup (%)',
  'agent.status': 'Status', 'agent.type': 'Type', 'agent.date': 'Date', 'agent.login': 'Login',
  'error.generic': 'Something went wrong. Try again.', 'error.csrf': 'The form expired. Reload the page and try again.',
  'error.not_found': 'Not found.', 'error.billing': 'The billing service is not reachable. Try again in a moment.',
  'lang.en': 'English', 'lang.de': 'Deutsch',
  'nav.sms': 'SMS', 'sms.to': 'To', 'sms.text': 'Text', 'sms.send': 'Send SMS', 'sms.history': 'Sent messages',
  'sms.hint': 'International number with country code. 160 characters make one SMS (70 with characters outside the GSM alphabet); longer texts are sent in several parts, each charged.',
  'sms.total': 'messages', 'sms.empty': 'No messages yet.', 'sms.segments': 'Parts', 'sms.status': 'Status',
  'sms.status_scheduled': 'Scheduled', 'sms.status_queued': 'Queued', 'sms.status_sent': 'Sent',
  'sms.status_delivered': 'Delivered', 'sms.status_failed': 'Failed', 'sms.status_cancelled': 'Cancelled',
  'sms.sent': 'SMS to {phone} sent: {segments} part(s), {encoding}, {cost}.',
  'sms.refused': 'The SMS to {phone} was not accepted ({reason}). {segments} part(s), {encoding}, {cost} charged for the attempt.',
  'sms.unavailable': 'SMS cannot be sent at the moment. Please contact support.',
  'nav.esim': 'eSIM', 'esim.search': 'Country, region or name', 'esim.search_submit': 'Search',
  'esim.balance': 'Your balance: {balance}', 'esim.packages_total': 'packages', 'esim.no_packages': 'No packages found.',
  'esim.package': 'Package', 'esim.countries': 'Countries', 'esim.countries_many': '{count} countries', 'esim.data': 'Data',
  'esim.validity': 'Valid for', 'esim.days': '{days} days', 'esim.price': 'Price', 'esim.buy': 'Buy',
  'esim.orders': 'My eSIMs', 'esim.no_orders': 'No eSIMs bought yet.', 'esim.bought_at': 'Bought', 'esim.status': 'Status',
  'esim.view': 'Show', 'esim.order': 'eSIM', 'esim.back': 'All my eSIMs',
  'esim.status_pending': 'Being confirmed', 'esim.status_allocating': 'Being prepared', 'esim.status_ready': 'Ready',
  'esim.status_refunded': 'Refunded',
  'esim.bought': '{name} bought for {price}.',
  'esim.refused': 'The provider did not accept {name} ({reason}); {price} was refunded.',
  'esim.preparing': 'Your eSIM is being prepared. Reload this page in a moment to see its QR code.',
  'esim.install': 'Scan the QR code with the phone that will use the eSIM (settings, mobile data, add eSIM), or enter the activation code by hand.',
  'esim.qr': 'QR code of the eSIM', 'esim.activation_code': 'Activation code', 'esim.iccid': 'ICCID',
  'esim.used': 'Used', 'esim.remaining': 'Remaining', 'esim.expires': 'Expires',
} as const;

export type MessageKey = keyof typeof en;

const de: Partial<Record<MessageKey, string>> = {
  'nav.dashboard': 'Übersicht', 'nav.calls': 'Anrufe', 'nav.failed': 'Fehlgeschlagene Anrufe', 'nav.refills': 'Aufladungen',
  'nav.sip': 'SIP-Konten', 'nav.callerids': 'Rufnummern', 'nav.rates': 'Tarife', 'nav.profile': 'Profil',
  'nav.password': 'Passwort', 'nav.topup': 'Aufladen', 'nav.phone': 'Web-Telefon', 'nav.logout': 'Abmelden',
  'nav.clients': 'Kunden', 'nav.transfer': 'Übertragen', 'nav.transactions': 'Buchungen', 'nav.markup': 'Aufschlag',
  'login.title': 'Anmelden', 'login.login': 'Benutzer', 'login.password': 'Passwort', 'login.submit': 'Anmelden',
  'login.failed': 'Benutzer oder Passwort falsch.', 'login.limited': 'Zu viele Versuche. Bitte später erneut versuchen.',
  'login.inactive': 'Dieses Konto ist nicht aktiv.', 'login.agent': 'Agenten-Anmeldung', 'login.client': 'Kunden-Anmeldung',
  'dash.balance': 'Guthaben', 'dash.plan': 'Tarif', 'dash.callerid': 'Aktive Rufnummer', 'dash.none': 'keine',
  'dash.recent': 'Letzte Anrufe', 'dash.spend': 'Kosten pro Tag (letzte 30 Tage)', 'dash.status': 'Status',
  'dash.active': 'aktiv', 'dash.inactive': 'inaktiv',
  'calls.date': 'Datum', 'calls.destination': 'Ziel', 'calls.number': 'Nummer', 'calls.duration': 'Dauer (s)',
  'calls.cost': 'Kosten', 'calls.disposition': 'Ergebnis', 'calls.sip': 'SIP-Konto', 'calls.empty': 'Keine Anrufe.',
  'calls.from': 'Von', 'calls.to': 'Bis', 'calls.filter': 'Filtern', 'calls.csv': 'CSV herunterladen', 'calls.next': 'Nächste Seite',
  'calls.first': 'Erste Seite', 'calls.total': 'Anrufe',
  'refills.amount': 'Betrag', 'refills.after': 'Guthaben danach', 'refills.kind': 'Art', 'refills.description': 'Beschreibung',
  'refills.empty': 'Keine Aufladungen.',
  'sip.host': 'Server', 'sip.login': 'Benutzer', 'sip.callerid': 'Rufnummer', 'sip.reset': 'Neues Passwort',
  'sip.new_password': 'Das neue Passwort von {name} (nur jetzt sichtbar):', 'sip.status': 'Status',
  'callerids.cid': 'Nummer', 'callerids.name': 'Name', 'callerids.active': 'Aktiv', 'callerids.empty': 'Keine Rufnummern.',
  'rates.search': 'Ziel oder Vorwahl', 'rates.prefix': 'Vorwahl', 'rates.destination': 'Ziel',
  'rates.rate': 'Pro Minute', 'rates.connect': 'Verbindungsentgelt', 'rates.blocks': 'Takt (s)', 'rates.empty': 'Keine Tarife gefunden.',
  'profile.name': 'Name', 'profile.email': 'E-Mail', 'profile.phone': 'Telefon', 'profile.language': 'Sprache',
  'profile.save': 'Speichern', 'profile.saved': 'Profil gespeichert.',
  'password.current': 'Aktuelles Passwort', 'password.new': 'Neues Passwort', 'password.repeat': 'Neues Passwort wiederholen',
  'password.save': 'Passwort ändern', 'password.saved': 'Passwort geändert.', 'password.mismatch': 'Die neuen Passwörter stimmen nicht überein.',
  'password.wrong': 'Das aktuelle Passwort ist falsch.',
  'topup.amount': 'Betrag ({currency})', 'topup.provider': 'Bezahlen mit', 'topup.submit': 'Weiter zur Zahlung',
  'topup.none': 'Keine Zahlungsart eingerichtet.', 'topup.done': 'Danke. Ihr Guthaben wird gutgeschrieben, sobald die Zahlung bestätigt ist.',
  'topup.failed': 'Die Zahlung wurde nicht abgeschlossen.', 'topup.range': 'Bitte einen Betrag von {min} bis {max} eingeben.',
  'topup.unavailable': 'Der Zahlungsanbieter ist nicht erreichbar. Bitte später erneut versuchen.',
  'phone.title': 'Web-Telefon', 'phone.number': 'Nummer', 'phone.call': 'Anrufen', 'phone.hangup': 'Auflegen',
  'phone.status': 'Status', 'phone.connecting': 'Verbinde…', 'phone.unavailable': 'Das Web-Telefon ist nicht verfügbar.',
  'agent.clients': 'Kunden', 'agent.search': 'Benutzer oder Name suchen', 'agent.create': 'Neuer Kunde', 'agent.plan': 'Tarif',
  'agent.balance': 'Guthaben', 'agent.activate': 'Aktivieren', 'agent.deactivate': 'Deaktivieren', 'agent.change_plan': 'Tarif ändern',
  'agent.created': 'Kunde {login} angelegt. Passwort (nur jetzt sichtbar): {password}. SIP-Passwort: {sip}.',
  'agent.transfer_done': '{amount} an {login} gutgeschrieben.', 'agent.amount': 'Betrag', 'agent.transfer': 'Guthaben übertragen',
  'agent.preview': 'Vorschau', 'agent.save_markup': 'Aufschlag speichern', 'agent.markup_saved': 'Aufschlag gespeichert.', 'agent.markup': 'Aufschlag (%)',
  'agent.status': 'Status', 'agent.type': 'Art', 'agent.date': 'Datum', 'agent.login': 'Benutzer',
  'error.generic': 'Etwas ist schiefgelaufen. Bitte erneut versuchen.', 'error.csrf': 'Das Formular ist abgelaufen. Seite neu laden und erneut versuchen.',
  'error.not_found': 'Nicht gefunden.', 'error.billing': 'Der Abrechnungsdienst ist nicht erreichbar. Bitte gleich erneut versuchen.',
  'lang.en': 'English', 'lang.de': 'Deutsch',
  'nav.sms': 'SMS', 'sms.to': 'An', 'sms.text': 'Text', 'sms.send': 'SMS senden', 'sms.history': 'Gesendete Nachrichten',
  'sms.hint': 'Internationale Nummer mit Ländervorwahl. 160 Zeichen ergeben eine SMS (70 mit Zeichen außerhalb des GSM-Alphabets); längere Texte werden in mehreren Teilen gesendet, jeder wird berechnet.',
  'sms.total': 'Nachrichten', 'sms.empty': 'Noch keine Nachrichten.', 'sms.segments': 'Teile', 'sms.status': 'Status',
  'sms.status_scheduled': 'Geplant', 'sms.status_queued': 'In Warteschlange', 'sms.status_sent': 'Gesendet',
  'sms.status_delivered': 'Zugestellt', 'sms.status_failed': 'Fehlgeschlagen', 'sms.status_cancelled': 'Storniert',
  'sms.sent': 'SMS an {phone} gesendet: {segments} Teil(e), {encoding}, {cost}.',
  'sms.refused': 'Die SMS an {phone} wurde nicht angenommen ({reason}). {segments} Teil(e), {encoding}, {cost} für den Versuch berechnet.',
  'sms.unavailable': 'SMS können gerade nicht gesendet werden. Bitte wenden Sie sich an den Support.',
  'nav.esim': 'eSIM', 'esim.search': 'Land, Region oder Name', 'esim.search_submit': 'Suchen',
  'esim.balance': 'Ihr Guthaben: {balance}', 'esim.packages_total': 'Pakete', 'esim.no_packages': 'Keine Pakete gefunden.',
  'esim.package': 'Paket', 'esim.countries': 'Länder', 'esim.countries_many': '{count} Länder', 'esim.data': 'Datenvolumen',
  'esim.validity': 'Gültig für', 'esim.days': '{days} Tage', 'esim.price': 'Preis', 'esim.buy': 'Kaufen',
  'esim.orders': 'Meine eSIMs', 'esim.no_orders': 'Noch keine eSIMs gekauft.', 'esim.bought_at': 'Gekauft', 'esim.status': 'Status',
  'esim.view': 'Anzeigen', 'esim.order': 'eSIM', 'esim.back': 'Alle meine eSIMs',
  'esim.status_pending': 'Wird bestätigt', 'esim.status_allocating': 'Wird bereitgestellt', 'esim.status_ready': 'Bereit',
  'esim.status_refunded': 'Erstattet',
  'esim.bought': '{name} für {price} gekauft.',
  'esim.refused': 'Der Anbieter hat {name} nicht angenommen ({reason}); {price} wurden erstattet.',
  'esim.preparing': 'Ihre eSIM wird bereitgestellt. Laden Sie diese Seite gleich neu, um ihren QR-Code zu sehen.',
  'esim.install': 'Scannen Sie den QR-Code mit dem Telefon, das die eSIM nutzen soll (Einstellungen, Mobile Daten, eSIM hinzufügen), oder geben Sie den Aktivierungscode von Hand ein.',
  'esim.qr': 'QR-Code der eSIM', 'esim.activation_code': 'Aktivierungscode', 'esim.iccid': 'ICCID',
  'esim.used': 'Verbraucht', 'esim.remaining': 'Verbleibend', 'esim.expires': 'Läuft ab',
};

export const MESSAGES: Record<Language, Partial<Record<MessageKey, string>>> = { en, de };

export type Translate = (key: MessageKey, vars?: Record<string, string | number>) => string;

export function translator(lang: Language): Translate {
  const table = MESSAGES[lang];
  return (key, vars) => {
    let text = table[key] ?? en[key] ?? key;
    for (const [k, v] of Object.entries(vars ?? {})) text = text.replaceAll(`{${k}}`, String(v));
    return text;
  };
}

/** The first of Accept-Language's languages the portal speaks, else null. */
export function fromAcceptLanguage(header: string | undefined): Language | null {
  for (const part of (header ?? '').split(',')) {
    const tag = part.split(';')[0].trim().slice(0, 2).toLowerCase();
    if (tag === 'en' || tag === 'de') return tag;
  }
  return null;
}
