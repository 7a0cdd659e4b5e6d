// The shapes of the events service's category catalog the web apps read (the same fields as
// the OpenAPI's TemplateFieldSchema and CategoryRead, written here so web/shared imports
// nothing; the apps' generated types are assignable to them and back).

export interface ChoiceOption {
  code: string
  label: string
}

export interface TemplateField {
  key: string
  label: string
  type: 'text' | 'number' | 'choice' | 'date' | 'phone'
  required: boolean
  choices: string[]
  options: ChoiceOption[]
}

export interface Category {
  code: string
  name: string
  template: TemplateField[]
  children?: Category[]
}
